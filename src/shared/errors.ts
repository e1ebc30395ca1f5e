/** Error codes of the HTTP contract (API.md §1). */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION_ERROR'
  | 'AUTHENTICATION_REQUIRED'
  | 'INVALID_API_KEY'
  | 'API_KEY_EXPIRED'
  | 'EMAIL_NOT_VERIFIED'
  | 'ACCOUNT_SUSPENDED'
  | 'EMAIL_TAKEN'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
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

export const unsupportedMediaType = (contentType: string | undefined) =>
  new AppError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Type '${contentType ?? ''}': send the CSV as text/csv or as multipart/form-data with a 'file' field.`,
  );

export const serviceUnavailable = (message = 'A backing service is unavailable; try again shortly.') =>
  new AppError(503, 'SERVICE_UNAVAILABLE', message, { retry_after_seconds: 5 });
