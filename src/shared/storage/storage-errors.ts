import { AppError, serviceUnavailable } from '../http/app-error.js';

/**
 * Whether `error` says the file is not stored: ENOENT from the local store (and for an upload kept
 * in PostgreSQL), 404 (NoSuchKey) from object storage. Anything else is a store that could not
 * answer, which may serve the file again shortly: a caller must not treat it as gone.
 */
export function isMissingFile(error: unknown): boolean {
  const { code, name, $metadata } = (error ?? {}) as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } };
  return code === 'ENOENT' || name === 'NoSuchKey' || $metadata?.httpStatusCode === 404;
}

/** A storage failure as the client sees it: 503 with Retry-After, the request may be sent again. */
export function storageUnavailable(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return Object.assign(serviceUnavailable('The file storage is unavailable; try again shortly.'), { cause: error });
}
