import type { Config } from '../shared/config.js';

/** busboy's limits for a multipart upload, as @fastify/multipart passes them on. */
export interface BusboyLimits {
  fileSize: number;
  files: number;
  fields: number;
  fieldSize: number;
  parts: number;
}

/**
 * The limits of a multipart upload: one streamed `file` of at most MAX_UPLOAD_BYTES and a few
 * small text fields. Without them busboy keeps every text field (up to 1 MiB each, any number) in
 * memory until the request ends, so one request could exhaust the heap.
 */
export function multipartLimits(config: Config): BusboyLimits {
  return {
    fileSize: config.MAX_UPLOAD_BYTES,
    files: 1,
    fields: config.MULTIPART_MAX_FIELDS,
    fieldSize: config.MULTIPART_MAX_FIELD_BYTES,
    parts: config.MULTIPART_MAX_PARTS,
  };
}
