import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AppError } from './app-error.js';

/** The error envelope of API.md §1; extra fields (errors, retry_after_seconds, limit, tier) pass through. */
export const errorEnvelopeSchema = z
  .object({
    error: z.string(),
    detail: z.string(),
    error_code: z.string(),
    timestamp: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    retry_after_seconds: z.number().int().optional(),
  })
  .loose()
  .meta({ id: 'Error' });

/** The response schemas of the given error statuses, for a route's `schema.response`. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorEnvelopeSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorEnvelopeSchema]));
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
