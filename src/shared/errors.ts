/** Error codes of the HTTP contract (API.md §1). */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION_ERROR'
  | 'AUTHENTICATION_REQUIRED'
  | 'INVALID_API_KEY'
  | 'API_KEY_EXPIRED'
  | 'EMAIL_NOT_VERIFIED'
  | 'ACCOUNT_SUSPENDED'
  | 'INVALID_CREDENTIALS'
  | 'EMAIL_TAKEN'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'DUPLICATE_EAN'
  | 'DUPLICATE_NAME'
  | 'JOB_NOT_FINISHED'
  | 'ACCOUNT_LOCKED'
  | 'RATE_LIMIT_EXCEEDED'
  | 'QUOTA_EXCEEDED'
  | 'PAYLOAD_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'REQUEST_HEADERS_TOO_LARGE'
  | 'LIMIT_EXCEEDED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL_ERROR'
  | 'SERVICE_UNAVAILABLE';

/** One field problem, as listed in the `errors` array of a validation error. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * An error that the API turns into the contract's envelope: `status`, `code` and `message`
 * go out as the HTTP status, `error_code` and `error`/`detail`; `extras` are merged into the body.
 */
export class AppError extends Error {
  override name = 'AppError';

  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly extras: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

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

export const apiKeyExpired = () => new AppError(401, 'API_KEY_EXPIRED', 'API key expired.');

export const emailNotVerified = () => new AppError(403, 'EMAIL_NOT_VERIFIED', 'Email not verified.');

export const accountSuspended = () => new AppError(403, 'ACCOUNT_SUSPENDED', 'Account suspended.');

export const validationError = (problems: FieldProblem[], status = 400) =>
  new AppError(status, 'VALIDATION_ERROR', problems[0]?.message ?? 'The request is invalid.', { errors: problems });

export const permissionDenied = (scope: string) =>
  new AppError(403, 'PERMISSION_DENIED', `This key lacks the '${scope}' scope.`);

export const payloadTooLarge = (limitBytes: number) =>
  new AppError(413, 'PAYLOAD_TOO_LARGE', `The upload exceeds the limit of ${limitBytes} bytes.`, {
    limit_bytes: limitBytes,
  });

/** Multipart limits of an upload: text fields, bytes per text field, parts in all. */
export interface MultipartLimits {
  fields: number;
  fieldBytes: number;
  parts: number;
}

export const multipartTooLarge = (limits: MultipartLimits) =>
  new AppError(
    413,
    'PAYLOAD_TOO_LARGE',
    `The multipart body exceeds its limits: at most ${limits.fields} text fields of at most ${limits.fieldBytes} bytes, ` +
      `${limits.parts} parts in all, and one file, the 'file' field.`,
    { limit_fields: limits.fields, limit_field_bytes: limits.fieldBytes, limit_parts: limits.parts },
  );

/** A body that arrived slower than the configured minimum rate, or a request not received in time. */
export const requestTimeout = () =>
  new AppError(408, 'REQUEST_TIMEOUT', 'The request was not received in time: send the body at a steady rate.');

export const requestHeadersTooLarge = () =>
  new AppError(431, 'REQUEST_HEADERS_TOO_LARGE', 'The request headers are too large.');

/** A body with a Content-Encoding: the service reads only what it can bound, the bytes as sent. */
export const unsupportedContentEncoding = (encoding: string) =>
  new AppError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Encoding '${encoding}': send the request body uncompressed, without a Content-Encoding.`,
  );

export const unsupportedMediaType = (
  contentType: string | undefined,
  expected = "send the CSV as text/csv or as multipart/form-data with a 'file' field",
) => new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Unsupported Content-Type '${contentType ?? ''}': ${expected}.`);

export const serviceUnavailable = (message = 'A backing service is unavailable; try again shortly.') =>
  new AppError(503, 'SERVICE_UNAVAILABLE', message, { retry_after_seconds: 5 });

export const invalidCredentials = () => new AppError(401, 'INVALID_CREDENTIALS', 'Invalid email or password.');

export const emailTaken = () => new AppError(409, 'EMAIL_TAKEN', 'An account with this email already exists.');

export const duplicateEan = () => new AppError(409, 'DUPLICATE_EAN', 'A product with this EAN already exists.');

/** A per-account limit of the configuration (not a rate) is reached; `limit` carries its number. */
export const limitExceeded = (message: string, limit: number) => new AppError(409, 'LIMIT_EXCEEDED', message, { limit });

export const jobNotFinished = () =>
  new AppError(409, 'JOB_NOT_FINISHED', 'The job has not completed yet: poll it until its status is completed.');

export const accountLocked = (retryAfterSeconds: number) =>
  new AppError(
    423,
    'ACCOUNT_LOCKED',
    `Account locked after too many failed logins; try again in ${retryAfterSeconds} seconds.`,
    { retry_after_seconds: retryAfterSeconds },
  );

export const rateLimitExceeded = (message: string, retryAfterSeconds: number) =>
  new AppError(429, 'RATE_LIMIT_EXCEEDED', message, { retry_after_seconds: retryAfterSeconds });

/** The monthly quota is used up: `retry_after_seconds` says when the next month starts; no Retry-After header. */
export const quotaExceeded = (limit: number, tier: string, retryAfterSeconds: number) =>
  new AppError(429, 'QUOTA_EXCEEDED', 'Monthly quota exceeded.', { limit, tier, retry_after_seconds: retryAfterSeconds });
