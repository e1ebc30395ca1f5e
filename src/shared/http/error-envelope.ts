import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { tierField } from '../accounts/account-fields.js';
import { answeredInstant } from '../instant.js';
import { ERROR_CODES, type AppError, type ErrorCode } from './app-error.js';
import { readinessChecksSchema } from './readiness-checks.js';
import { noted } from './response-notes.js';

const count = z.number().int();

/**
 * The error envelope of API.md §1. The fields after `timestamp` come with some errors only; any
 * other field an error carries passes through.
 */
export const errorEnvelopeSchema = z
  .object({
    error: z
      .string()
      .describe(
        'What went wrong, in one sentence. The sentences each `error_code` is sent with are listed under Errors in the ' +
          "document's introduction, and in each operation's error responses; `{…}` marks a variable part",
      ),
    detail: z.string().describe('The same sentence as `error`'),
    error_code: z.enum(ERROR_CODES).describe('What went wrong; each response of an operation lists the codes it can carry'),
    timestamp: answeredInstant(),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('Every problem of the request, the first being `error` (BAD_REQUEST, VALIDATION_ERROR)'),
    retry_after_seconds: count
      .optional()
      .describe('Seconds until a retry can succeed (RATE_LIMIT_EXCEEDED, QUOTA_EXCEEDED: the next month, ACCOUNT_LOCKED, SERVICE_UNAVAILABLE)'),
    limit: count.optional().describe("The limit reached: the tier's monthly quota (QUOTA_EXCEEDED), the most export schedules (LIMIT_EXCEEDED)"),
    tier: tierField.optional().describe("The account's tier (QUOTA_EXCEEDED)"),
    limit_bytes: count.optional().describe('The most bytes an upload or a JSON body may have (PAYLOAD_TOO_LARGE)'),
    limit_fields: count.optional().describe('The most text fields of a multipart upload (PAYLOAD_TOO_LARGE of a multipart body)'),
    limit_field_bytes: count.optional().describe('The most bytes of one multipart text field (PAYLOAD_TOO_LARGE of a multipart body)'),
    limit_parts: count.optional().describe('The most parts of a multipart upload (PAYLOAD_TOO_LARGE of a multipart body)'),
    checks: readinessChecksSchema.optional().describe('What GET /readyz found (its SERVICE_UNAVAILABLE)'),
  })
  .loose()
  .meta({ id: 'Error' });

/** The response schemas of the given error statuses, for a route's `schema.response`. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorEnvelopeSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorEnvelopeSchema]));
}

/**
 * The error response of `status` answering with `codes` besides the status's usual ones (see
 * src/api/plugins/openapi-errors.ts): `errorCodes(409, 'DUPLICATE_NAME')`. Validated and
 * serialized as {@link errorResponses}; the codes are for the OpenAPI document.
 */
export function errorCodes(status: number, ...codes: ErrorCode[]): Record<number, typeof errorEnvelopeSchema> {
  return { [status]: noted(errorEnvelopeSchema, { codes }) };
}

/**
 * The error response of `status` answering with `code`, its `error` one of `sentences` (the exact
 * sentences, built by the constructors that send them, `{…}` for a variable part). Validated and
 * serialized as {@link errorResponses}; the sentences are for the OpenAPI document.
 */
export function errorSentences(status: number, code: ErrorCode, ...sentences: string[]): Record<number, typeof errorEnvelopeSchema> {
  return { [status]: noted(errorEnvelopeSchema, { codes: [code], sentences: { [code]: sentences } }) };
}

/** The contract's timestamp form: ISO 8601 UTC to the second. */
const timestamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Sends the error envelope of API.md §1; `error` and `detail` carry the same sentence. */
export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  // A used-up monthly quota is not worth retrying soon: its body says when the month resets, but
  // it carries no Retry-After header, so that clients that honour Retry-After do not wait for it.
  if ((error.status === 429 && error.code !== 'QUOTA_EXCEEDED') || error.status === 503) {
    const retryAfter = error.extras.retry_after_seconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  }
  return reply.code(error.status).send(envelopeOf(error));
}

/** The envelope's body for an error, as sent and as written to a socket by hand. */
export function envelopeOf(error: AppError): Record<string, unknown> {
  return { error: error.message, detail: error.message, error_code: error.code, timestamp: timestamp(), ...error.extras };
}
