import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { httpDate } from '../shared/http/http-date.js';
import type { ResponseHeader } from '../shared/http/response-notes.js';
import type { ReadRange } from '../shared/storage/file-store.js';
import { rangeNotSatisfiable } from './errors.js';
import type { StreamedAnswer } from './streamed-route.js';

/**
 * A stored file's download with the validators and ranges of RFC 9110: a fetcher checks cheaply
 * whether the file changed (`If-None-Match`, `If-Modified-Since` → 304) and resumes a download cut
 * off part-way (`Range`, guarded by `If-Range`) instead of starting again.
 */

/** A stored file as its download presents it. */
export interface DownloadableFile {
  size: number;
  /** Its strong entity tag ({@link strongEtag}): another whenever the file's bytes could differ. */
  etag: string;
  /** When the file was complete; sent (and compared) to the second, as HTTP dates are. */
  lastModified: Date;
  /** Its own headers: Content-Type, Content-Disposition. */
  headers: Record<string, string>;
  /** Opens the file, or the bytes of `range` (its last byte included). */
  open(range?: ReadRange): Readable | Promise<Readable>;
}

/** A quoted strong entity tag of the parts that identify a file's content (RFC 9110 §8.8.3). */
export function strongEtag(...parts: Array<string | number>): string {
  return `"${createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 27)}"`;
}

/** Which bytes a Range header asks for: a range, none it can satisfy, or null to send the whole file. */
type RangeAsked = Required<ReadRange> | 'unsatisfiable' | null;

/**
 * The one byte range `header` asks of a file of `size` bytes (RFC 9110 §14.1.2): `bytes=a-b`
 * (its end cut to the file's), `bytes=a-` or the last n bytes `bytes=-n`. Several ranges, another
 * unit or a malformed value are ignored (null: the whole file, as §14.2 allows); so is a suffix
 * range of an empty file, which has no byte to send in a 206.
 */
export function askedRange(header: string | undefined, size: number): RangeAsked {
  const spec = /^bytes=(\d*)-(\d*)$/i.exec(header?.trim() ?? '');
  if (!spec || (spec[1] === '' && spec[2] === '')) return null;
  const [first, last] = [spec[1] === '' ? null : Number(spec[1]), spec[2] === '' ? null : Number(spec[2])];
  if (first === null) {
    if (last === 0) return 'unsatisfiable';
    return size === 0 ? null : { start: Math.max(0, size - last!), end: size - 1 };
  }
  if (last !== null && last < first) return null;
  if (first >= size) return 'unsatisfiable';
  return { start: first, end: Math.min(last ?? size - 1, size - 1) };
}

/** The entity tags of an If-None-Match or If-Range value, `W/` kept; `*` as itself. */
const entityTags = (value: string) => (value.trim() === '*' ? ['*'] : (value.match(/(?:W\/)?"[^"]*"/g) ?? []));

/** The file's time to the second: what Last-Modified says, and what a client's date is compared with. */
const lastModifiedTime = (file: DownloadableFile) => Math.floor(file.lastModified.getTime() / 1000) * 1000;

/**
 * Whether the client's copy is current (RFC 9110 §13.2.2): If-None-Match lists the file's tag
 * (weak comparison, or `*`), or, without If-None-Match, If-Modified-Since is not before the file.
 */
function notModified(request: FastifyRequest, file: DownloadableFile): boolean {
  const noneMatch = request.headers['if-none-match'];
  if (noneMatch !== undefined) {
    const opaque = (tag: string) => tag.replace(/^W\//, '');
    return entityTags(noneMatch).some((tag) => tag === '*' || opaque(tag) === file.etag);
  }
  const since = httpDate(request.headers['if-modified-since']);
  return since !== null && lastModifiedTime(file) <= since;
}

/**
 * The range of a GET to send (a HEAD, and any other method, ignores Range: RFC 9110 §14.2), unless
 * If-Range names another version of the file: then the whole file, which the client starts again.
 * If-Range matches the strong tag itself, or the Last-Modified date exactly (§13.1.5).
 */
function rangeToSend(request: FastifyRequest, file: DownloadableFile): RangeAsked {
  const range = request.headers.range;
  if (request.method !== 'GET' || range === undefined) return null;
  const ifRange = request.headers['if-range'];
  if (typeof ifRange === 'string') {
    const tag = entityTags(ifRange)[0];
    const current = tag !== undefined ? tag === file.etag : httpDate(ifRange) === lastModifiedTime(file);
    if (!current) return null;
  }
  return askedRange(range, file.size);
}

/**
 * The answer to a download of `file`: 304 without a body when the client's copy is current; 206
 * with the bytes of a satisfiable range; 416 RANGE_NOT_SATISFIABLE with `Content-Range: bytes
 * *\/<size>` when the range starts past the file's end; else 200 with the whole file. Every answer
 * but the 416 carries the validators, and a 200 or 206 `Accept-Ranges: bytes`.
 */
export function rangedDownload(request: FastifyRequest, reply: FastifyReply, file: DownloadableFile): StreamedAnswer {
  const validators = { etag: file.etag, 'last-modified': new Date(lastModifiedTime(file)).toUTCString() };
  // A 304 carries the tag alone, no representation headers (RFC 9110 §15.4.5).
  if (notModified(request, file)) return { status: 304, headers: { etag: file.etag } };
  const headers = { ...file.headers, ...validators, 'accept-ranges': 'bytes' };
  const range = rangeToSend(request, file);
  if (range === 'unsatisfiable') {
    // Kept by the error handler, which sends the envelope as the body.
    reply.header('content-range', `bytes */${file.size}`);
    throw rangeNotSatisfiable(file.size);
  }
  if (range === null) return { headers: { ...headers, 'content-length': String(file.size) }, open: () => file.open() };
  return {
    status: 206,
    headers: { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${file.size}`, 'content-length': String(range.end - range.start + 1) },
    open: () => file.open(range),
  };
}

/**
 * Node refuses a request whose headers exceed 16 KiB in all (431) before any route: no header
 * can be longer, so this bound, which the document states, never refuses one itself.
 */
const HEADER_LENGTH = 16_384;

const header = (description: string) => z.string().max(HEADER_LENGTH).optional().describe(description);

/** The request headers of a ranged download, for its schema (documented; a malformed value is ignored, never a 400). */
export const rangedDownloadHeaders = z
  .object({
    range: header('One byte range to send (`bytes=0-99`, `bytes=100-`, `bytes=-500`): answered 206. Several ranges or a malformed value: the whole file (200)'),
    'if-range': header('With `Range`: the ETag (or Last-Modified) of the copy being resumed; if the file is another one now, the whole file (200) is sent'),
    'if-none-match': header('ETags of copies the client has: 304 if the file is one of them'),
    'if-modified-since': header('Without `If-None-Match`: 304 unless the file is newer than this date'),
  })
  .loose();

/** The validators a 200, 206 or 304 carries. */
export const VALIDATOR_HEADERS: Record<string, ResponseHeader> = {
  ETag: { description: "The file's strong entity tag, for If-None-Match and If-Range", required: true, type: 'string' },
  'Last-Modified': { description: 'When the file was complete (the job finished), for If-Modified-Since and If-Range', required: true, type: 'string' },
};

/** The headers of a 200 or 206 beside the validators. */
export const RANGE_HEADERS: Record<string, ResponseHeader> = {
  'Accept-Ranges': { description: '`bytes`: a download can be resumed with `Range`', required: true, type: 'string', pattern: '^bytes$' },
  'Content-Length': { description: 'The bytes sent: the whole file, or the range', required: true, type: 'integer', format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
};

/** A 206's or 416's Content-Range. */
export const contentRangeHeader = (description: string, pattern: string): Record<string, ResponseHeader> => ({
  'Content-Range': { description, required: true, type: 'string', pattern },
});
