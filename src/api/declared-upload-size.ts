import type { FastifyRequest } from 'fastify';
import { payloadTooLarge } from './errors.js';
import { mediaTypeOf } from './media-type.js';
import type { BusboyLimits } from './multipart-limits.js';

/** Room for a multipart body's boundaries and part headers, besides its file and its text fields. */
export const MULTIPART_FRAMING_BYTES = 64 * 1024;

/**
 * The largest Content-Length an upload may declare: MAX_UPLOAD_BYTES for a raw body; for a
 * multipart body that plus the text fields it may carry and {@link MULTIPART_FRAMING_BYTES}.
 */
export function largestDeclaredUpload(maxUploadBytes: number, multipart: BusboyLimits, isMultipart: boolean): number {
  return isMultipart ? maxUploadBytes + multipart.fields * multipart.fieldSize + MULTIPART_FRAMING_BYTES : maxUploadBytes;
}

/**
 * An onRequest hook of the upload route: a body whose Content-Length says it is over the limit
 * gets 413 before any of it is read, and before `100 Continue` (see expectations.ts), so curl does
 * not send a file only to have it refused and a client that declares 100 TB is not waited for.
 * The connection is closed after the answer (the error handler closes any whose body was not read
 * to its end). A body without Content-Length (chunked) is counted as it is stored, as before.
 */
export function refuseDeclaredOversize(maxUploadBytes: number, multipart: BusboyLimits) {
  return async (request: FastifyRequest): Promise<void> => {
    const declared = request.headers['content-length'];
    if (declared === undefined) return;
    // Not request.isMultipart(): the multipart parser marks the request only once it parses the body.
    const isMultipart = mediaTypeOf(request.headers['content-type']) === 'multipart/form-data';
    if (Number(declared) <= largestDeclaredUpload(maxUploadBytes, multipart, isMultipart)) return;
    throw payloadTooLarge(maxUploadBytes);
  };
}
