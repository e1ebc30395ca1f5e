/** Error codes of the HTTP contract (API.md §1): every `error_code` an answer of the API can carry. */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'VALIDATION_ERROR',
  'AUTHENTICATION_REQUIRED',
  'INVALID_API_KEY',
  'API_KEY_EXPIRED',
  'EMAIL_NOT_VERIFIED',
  'ACCOUNT_SUSPENDED',
  'INVALID_CREDENTIALS',
  'EMAIL_TAKEN',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'DUPLICATE_EAN',
  'DUPLICATE_NAME',
  'JOB_NOT_FINISHED',
  'ACCOUNT_LOCKED',
  'RATE_LIMIT_EXCEEDED',
  'QUOTA_EXCEEDED',
  'PAYLOAD_TOO_LARGE',
  'RANGE_NOT_SATISFIABLE',
  'REQUEST_TIMEOUT',
  'REQUEST_HEADERS_TOO_LARGE',
  'LIMIT_EXCEEDED',
  'UNSUPPORTED_MEDIA_TYPE',
  'INTERNAL_ERROR',
  'SERVICE_UNAVAILABLE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error that an HTTP listener (the API's, or a worker process's) turns into the contract's
 * envelope: `status`, `code` and `message` go out as the HTTP status, `error_code` and
 * `error`/`detail`; `extras` are merged into the body. The API's own errors are in src/api/errors.ts.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly extras: Record<string, unknown>;

  constructor(status: number, code: ErrorCode, message: string, extras: Record<string, unknown> = {}) {
    // A 4xx answers the client and is logged without a stack; capturing one cost more than the
    // rest of building a 429, which a client over its limit may be sent thousands of times a second.
    const stackTraceLimit = Error.stackTraceLimit;
    if (status < 500) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.status = status;
    this.code = code;
    this.extras = extras;
  }
}
AppError.prototype.name = 'AppError';

export const badRequest = (message: string, extras?: Record<string, unknown>) =>
  new AppError(400, 'BAD_REQUEST', message, extras);

export const notFound = (message = 'Not found.') => new AppError(404, 'NOT_FOUND', message);

export const authenticationRequired = () =>
  new AppError(
    401,
    'AUTHENTICATION_REQUIRED',
    "Missing API key. Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
  );

export const invalidApiKey = () => new AppError(401, 'INVALID_API_KEY', 'Invalid API key.');

/** `what` is too large: an upload (MAX_UPLOAD_BYTES), or a JSON body ({@link MAX_JSON_BODY_BYTES}). */
export const payloadTooLarge = (limitBytes: number, what = 'The upload') =>
  new AppError(413, 'PAYLOAD_TOO_LARGE', `${what} exceeds the limit of ${limitBytes} bytes.`, {
    limit_bytes: limitBytes,
  });

/** The largest JSON request body the API parses. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/**
 * A body that arrived slower than the configured minimum rate (`part`: the body), or a request
 * whose headers or body were not received in time (`part`: what Node's timeouts cut).
 */
export const requestTimeout = (part = 'the body') =>
  new AppError(408, 'REQUEST_TIMEOUT', `The request was not received in time: send ${part} at a steady rate.`);

export const requestHeadersTooLarge = () =>
  new AppError(431, 'REQUEST_HEADERS_TOO_LARGE', 'The request headers are too large.');

export const unsupportedMediaType = (
  contentType: string | undefined,
  expected = "send the CSV as text/csv or as multipart/form-data with a 'file' field",
) => new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Unsupported Content-Type '${contentType ?? ''}': ${expected}.`);

/** Anything unexpected: its details go to the log only (API.md §1). */
export const internalError = () => new AppError(500, 'INTERNAL_ERROR', 'Internal server error.');

export const serviceUnavailable = (message = 'A backing service is unavailable; try again shortly.') =>
  new AppError(503, 'SERVICE_UNAVAILABLE', message, { retry_after_seconds: 5 });
