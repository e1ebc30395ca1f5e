import { MAX_FIELD_PROBLEMS, type FieldProblem } from '../shared/field-problems.js';
import { AppError, notFound } from '../shared/http/app-error.js';

// The API's errors: those every HTTP listener answers with (the envelope's own) and the API's
// alone, below. One import for a route or plugin.
export * from '../shared/http/app-error.js';

export const apiKeyExpired = () => new AppError(401, 'API_KEY_EXPIRED', 'API key expired.');

export const emailNotVerified = () => new AppError(403, 'EMAIL_NOT_VERIFIED', 'Email not verified.');

export const accountSuspended = () => new AppError(403, 'ACCOUNT_SUSPENDED', 'Account suspended.');

/**
 * A body's field problems (API.md §1): the first in `error`; in `errors` the first
 * MAX_FIELD_PROBLEMS of a signup's or key's 400, and all of a product body's 422, as the contract
 * has them (a product body's problems are bounded: its attributes are counted before its schema).
 */
export const validationError = (problems: FieldProblem[], status = 400) =>
  new AppError(status, 'VALIDATION_ERROR', problems[0]?.message ?? 'The request is invalid.', {
    errors: status === 422 ? problems : problems.slice(0, MAX_FIELD_PROBLEMS),
  });

/**
 * A job, schedule, import-profile or tier-change body that names an unknown value, key or field (API.md §1: 400 BAD_REQUEST,
 * which the contract keeps apart from a product body's 422): the first problem in `error`, the
 * first MAX_FIELD_PROBLEMS of them in `errors`, as a VALIDATION_ERROR lists them.
 */
export const badRequestBody = (problems: FieldProblem[]) =>
  new AppError(400, 'BAD_REQUEST', problems[0]?.message ?? 'The request is invalid.', { errors: problems.slice(0, MAX_FIELD_PROBLEMS) });

/** An Idempotency-Key already used within 24 hours with another request (API.md §4: 422). */
export const idempotencyKeyReused = () =>
  new AppError(422, 'VALIDATION_ERROR', 'This Idempotency-Key was already used with a different request.');

export const permissionDenied = (scope: string) =>
  new AppError(403, 'PERMISSION_DENIED', `This key lacks the '${scope}' scope.`);

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

/** A body with a Content-Encoding: the service reads only what it can bound, the bytes as sent. */
export const unsupportedContentEncoding = (encoding: string) =>
  new AppError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Encoding '${encoding}': send the request body uncompressed, without a Content-Encoding.`,
  );

/** A CSV upload labelled with a charset the import cannot read (`text/csv; charset=shift_jis`). */
export const unsupportedCharset = (charset: string, supported: readonly string[]) =>
  new AppError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported charset '${charset}' in the Content-Type: a CSV file can be read as ${supported.slice(0, -1).join(', ')} or ${supported.at(-1)}. ` +
      'Save the file as UTF-8 and send it with charset=utf-8.',
  );

export const invalidCredentials = () => new AppError(401, 'INVALID_CREDENTIALS', 'Invalid email or password.');

export const emailTaken = () => new AppError(409, 'EMAIL_TAKEN', 'An account with this email already exists.');

export const duplicateEan = () => new AppError(409, 'DUPLICATE_EAN', 'A product with this EAN already exists.');

/** A per-account limit of the configuration (not a rate) is reached; `limit` carries its number. */
export const limitExceeded = (message: string, limit: number) => new AppError(409, 'LIMIT_EXCEEDED', message, { limit });

export const jobNotFinished = () =>
  new AppError(409, 'JOB_NOT_FINISHED', 'The job has not completed yet: poll it until its status is completed.');

/** rows.csv of an import still running: it is offered once the import has ended, failed as well as completed. */
export const importNotEnded = () =>
  new AppError(409, 'JOB_NOT_FINISHED', 'The import has not ended yet: poll it until its status is completed or failed.');

/** The 423's sentence; `seconds` is a number, or the placeholder the OpenAPI document shows. */
export const accountLockedMessage = (seconds: number | string) =>
  `Account locked after too many failed logins; try again in ${seconds} seconds.`;

/**
 * A download's Range that selects no byte of the file (RFC 9110 §15.5.17): it starts at or past
 * the end, or asks for the last 0 bytes. The answer's Content-Range says the size.
 */
export const rangeNotSatisfiable = (size: number) =>
  new AppError(
    416,
    'RANGE_NOT_SATISFIABLE',
    size === 0
      ? 'The requested range is not satisfiable: the file is empty. Send no Range header to download it.'
      : `The requested range is not satisfiable: the file has ${size} bytes (0 to ${size - 1}). ` +
          'Ask for a range that starts within them, or send no Range header for the whole file.',
  );

export const accountLocked = (retryAfterSeconds: number) =>
  new AppError(423, 'ACCOUNT_LOCKED', accountLockedMessage(retryAfterSeconds), { retry_after_seconds: retryAfterSeconds });

export const rateLimitExceeded = (message: string, retryAfterSeconds: number) =>
  new AppError(429, 'RATE_LIMIT_EXCEEDED', message, { retry_after_seconds: retryAfterSeconds });

/** The sentence of the tier's per-minute 429. */
export const PER_MINUTE_EXCEEDED = 'Per-minute rate limit exceeded.';

/** What a per-address 429 counted too often (limits.ts): requests without a key, invalid keys. */
export const UNAUTHENTICATED_REQUESTS = 'Too many unauthenticated API requests from this address';
export const INVALID_KEY_ATTEMPTS = 'Too many invalid API key attempts from this address';

/** The sentence of a per-address 429 of `what`; `seconds` as in {@link accountLockedMessage}. */
export const perAddressMessage = (what: string, seconds: number | string) => `${what}; try again in ${seconds} seconds.`;

/** GET, PATCH and DELETE /v1/products/{ean} of an EAN the catalog does not have (API.md §3, without a full stop). */
export const productNotFound = () => notFound('Product not found');

export const jobNotFound = () => notFound('Job not found.');

/** The monthly quota is used up: `retry_after_seconds` says when the next month starts; no Retry-After header. */
export const quotaExceeded = (limit: number, tier: string, retryAfterSeconds: number) =>
  new AppError(429, 'QUOTA_EXCEEDED', 'Monthly quota exceeded.', { limit, tier, retry_after_seconds: retryAfterSeconds });
