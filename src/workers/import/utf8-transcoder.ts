import { Transform, type TransformCallback } from 'node:stream';
import iconv from 'iconv-lite';
import type { ImportEncoding } from '../../shared/jobs/import-options.js';

/**
 * Decodes an upload's bytes from `encoding` and passes them on as UTF-8 (a byte-order mark is
 * dropped). Each decoded piece is turned into UTF-8 bytes on its own, so a piece must not end
 * between the two halves of a character outside the BMP (an emoji): iconv-lite's UTF-16BE decoder
 * ends a piece on the first half when the file's read chunk does, and that half alone would be
 * stored as U+FFFD, the second half as another. The first half is held back and joined to the
 * next piece; one left at the end of the file has no second half and still becomes U+FFFD.
 */
export class Utf8Transcoder extends Transform {
  private readonly decoder: iconv.DecoderStream;
  /** A high surrogate that ended the last piece, waiting for its low surrogate. */
  private heldHalf = '';

  constructor(encoding: Exclude<ImportEncoding, 'utf-8'>) {
    super();
    this.decoder = iconv.getDecoder(decoderEncoding(encoding));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.pushText(this.decoder.write(chunk), false);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.pushText(this.decoder.end() ?? '', true);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private pushText(decoded: string, last: boolean): void {
    let text = this.heldHalf + decoded;
    this.heldHalf = '';
    if (!last && endsWithHighSurrogate(text)) {
      this.heldHalf = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (text.length > 0) this.push(Buffer.from(text, 'utf8'));
  }
}

/**
 * The encoding an import's `encoding` is decoded in: ISO-8859-1 is read as windows-1252, as the
 * WHATWG Encoding Standard (so every browser) reads that label. The two differ only in bytes
 * 0x80–0x9F: invisible control characters in ISO-8859-1, which no product file means, and the
 * € “ ” – ’ ™ of Excel's files on Windows, which many clients label iso-8859-1 or latin1.
 */
export function decoderEncoding(encoding: Exclude<ImportEncoding, 'utf-8'>): string {
  return encoding === 'iso-8859-1' ? 'windows-1252' : encoding;
}

function endsWithHighSurrogate(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff;
}
