import { badRequest, type AppError } from './errors.js';
import { noBoundary } from './multipart-boundary.js';

/**
 * What an import's multipart body must hold, and its 400s: a file part named `file`, which busboy
 * tells from a text field by its filename (or an application/octet-stream content type).
 */

/** A multipart body without a part named `file`. */
export const noFileField = () => badRequest("The multipart body has no 'file' field: send the CSV as the field named 'file'.");

/**
 * A part named `file` sent as a text field: the file's text as a form value, as a client sends it
 * that takes `file` for a string. Said apart from {@link noFileField}, which such a client would
 * read as a lie.
 */
export const fileFieldNotAFile = () =>
  badRequest("The multipart field 'file' must be a file part (with a filename), not a text field: send the CSV as a file.");

/** The 400 of a multipart body that busboy could not parse (its errors carry no code), or null. */
export function malformedMultipart(error: unknown): AppError | null {
  const message = error instanceof Error ? error.message : '';
  if (message === 'Multipart: Boundary not found') return noBoundary();
  if (/unexpected end of multipart data$/i.test(message)) return badRequest('The multipart body ends before its closing boundary.');
  return null;
}

/** busboy's codes for a multipart body over its limits (parts, text fields, files). */
export const MULTIPART_LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FIELDS_LIMIT', 'FST_FILES_LIMIT']);
