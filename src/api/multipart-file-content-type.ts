import type { Readable } from 'node:stream';
import { mediaTypeOf } from './media-type.js';

/** busboy's bound of a part's header block: a longer one fails the body there anyway. */
const MAX_HEADER_BYTES = 80 * 1024;

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The Content-Type header of a multipart body's `file` part, as sent, parameters included.
 *
 * busboy hands a file part's media type over without its parameters, so a `charset` would be lost
 * (upstream declined to pass the header on: mscdex/busboy#141). This reads the part headers from
 * the request's bytes as they pass to busboy: it listens to the stream and never reads it itself,
 * keeps at most one header block, and stops at the first part named `file` that busboy takes for
 * a file (one with a file name, or sent as application/octet-stream). Listen before the body
 * starts flowing, and {@link stop} when done with the body.
 */
export class MultipartFileContentType {
  readonly #source: Readable;
  readonly #delimiter: Buffer;
  // The request's first delimiter has no line break before it: one is put in front of the body.
  #pending: Buffer = Buffer.from('\r\n');
  #inHeaders = false;
  #value: string | null = null;
  readonly #onData = (chunk: Buffer) => this.#scan(Buffer.concat([this.#pending, chunk]));

  constructor(source: Readable, boundary: string) {
    this.#source = source;
    this.#delimiter = Buffer.from(`\r\n--${boundary}`);
    source.on('data', this.#onData);
  }

  /**
   * The `file` part's Content-Type when it has one and busboy read the same media type (busboy
   * defaults to text/plain), so a part this scan misread never lends its header to another.
   */
  contentTypeOf(busboyMediaType: string): string | null {
    return this.#value !== null && mediaTypeOf(this.#value) === busboyMediaType ? this.#value : null;
  }

  stop(): void {
    this.#source.off('data', this.#onData);
    this.#pending = Buffer.alloc(0);
  }

  #scan(data: Buffer): void {
    for (;;) {
      if (!this.#inHeaders) {
        const at = data.indexOf(this.#delimiter);
        if (at < 0) {
          this.#pending = data.subarray(Math.max(0, data.length - this.#delimiter.length + 1));
          return;
        }
        data = data.subarray(at + this.#delimiter.length);
        this.#inHeaders = true;
      }
      const end = data.indexOf(HEADER_END);
      // `--` after a delimiter closes the body; a header block that never ends is busboy's to refuse.
      if (data.subarray(0, 2).toString() === '--' || (end < 0 && data.length > MAX_HEADER_BYTES)) return this.stop();
      if (end < 0) {
        this.#pending = data;
        return;
      }
      // The delimiter line's end (and any padding after the boundary) comes first, then the headers.
      const headers = partHeaders(data.subarray(0, end).toString('latin1').split('\r\n').slice(1));
      data = data.subarray(end + HEADER_END.length);
      this.#inHeaders = false;
      if (isFilePart(headers)) {
        this.#value = headers.get('content-type') ?? null;
        return this.stop();
      }
    }
  }
}

/** A part's header lines by lower-case name (a folded line continues the one before it). */
function partHeaders(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  let last: string | null = null;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && last !== null) {
      headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    headers.set(last, line.slice(colon + 1).trim());
  }
  return headers;
}

/** Whether busboy hands this part over as the file named `file` (its `isPartAFile` rule). */
function isFilePart(headers: Map<string, string>): boolean {
  const disposition = headers.get('content-disposition') ?? '';
  const name = /;\s*name\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(disposition);
  if ((name?.[1] ?? name?.[2]) !== 'file') return false;
  return /;\s*filename\*?\s*=/i.test(disposition) || mediaTypeOf(headers.get('content-type')) === 'application/octet-stream';
}
