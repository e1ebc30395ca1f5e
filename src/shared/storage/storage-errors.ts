import { AppError, serviceUnavailable } from '../http/app-error.js';

/**
 * Whether `error` says the file is not stored: ENOENT from the local store (and for an upload kept
 * in PostgreSQL), S3's NoSuchKey from object storage (its answer to a GET of an object that is not
 * there). Anything else is a store that could not answer, which may serve the file again shortly,
 * and a caller must not treat it as gone: a 403, a NoSuchBucket (a bucket not reachable under that
 * name from this process), or a 404 without S3's code (a proxy or gateway in the way, not S3).
 */
export function isMissingFile(error: unknown): boolean {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return code === 'ENOENT' || name === 'NoSuchKey';
}

/** A storage failure as the client sees it: 503 with Retry-After, the request may be sent again. */
export function storageUnavailable(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return Object.assign(serviceUnavailable('The file storage is unavailable; try again shortly.'), { cause: error });
}
