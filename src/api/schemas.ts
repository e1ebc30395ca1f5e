import { z } from 'zod';
import { MAX_CURSOR_LENGTH } from '../shared/input-bounds.js';
import { JOB_STATUSES, JOB_TYPES } from '../shared/jobs/job-row.js';

/**
 * Schemas shared by the routes: they validate and serialize responses, and the OpenAPI document
 * is generated from them. Every route lists its responses, errors included, with these.
 */

export { errorEnvelopeSchema, errorResponses } from '../shared/http/error-envelope.js';

/** Errors any authenticated route can answer with (credentials, limits, backing services). */
export const AUTH_ERRORS = [401, 403, 429, 500, 503] as const;

/** `202 {id, status}` of a job-starting POST. */
export const jobAcceptedSchema = z.object({ id: z.uuid(), status: z.enum(JOB_STATUSES) }).meta({ id: 'JobAccepted' });

const count = z.number().int();

/** The job resource of API.md §4. */
export const jobResourceSchema = z
  .object({
    id: z.uuid(),
    type: z.enum(JOB_TYPES),
    status: z.enum(JOB_STATUSES),
    phase: z.enum(['queued', 'running', 'finalizing', 'done']),
    error_code: z.string().nullable(),
    detail: z.string().nullable(),
    progress: z.object({
      rows_total: count.nullable(),
      rows_processed: count,
      rows_succeeded: count,
      rows_failed: count,
      rows_created: count,
      rows_updated: count,
      rows_unchanged: count,
    }),
    options: z.record(z.string(), z.unknown()),
    schedule_id: z.uuid().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    links: z.object({
      self: z.string(),
      errors: z.string(),
      errors_csv: z.string(),
      result: z.string().nullable(),
      rows_csv: z.string().nullable(),
    }),
  })
  .meta({ id: 'Job' });

/**
 * A query value of decimal digits as its number; anything else (`0x1F4`, `1e2`, `+5`, a repeated
 * parameter's array) is left as it is, for the number schema to refuse.
 */
function decimalInteger(value: unknown): unknown {
  return typeof value === 'string' && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;
}

/** The query parameters of every list (API.md: `limit` 1..500, default 50, and `cursor`). */
export const pageQueryFields = {
  limit: z.preprocess(
    decimalInteger,
    z
      .number({ error: 'Expected a whole number written in decimal digits' })
      .int()
      .min(1, { error: 'Expected a number from 1 to 500' })
      .max(500, { error: 'Expected a number from 1 to 500' })
      .default(50),
  ),
  cursor: z.string().max(MAX_CURSOR_LENGTH).optional().meta({ description: 'The next_cursor of the previous page' }),
};

/** A cursor-paginated list of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

/** A response header as the OpenAPI document describes it. */
export interface ResponseHeader {
  description: string;
  type: 'integer';
  format: 'int32' | 'int64';
  minimum: number;
  maximum: number;
}

const requestCount = (description: string): ResponseHeader => ({
  description,
  type: 'integer',
  format: 'int64',
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
});
/** The limits count in one-minute windows, so no wait is longer than a minute. */
const secondsInWindow = (description: string): ResponseHeader => ({ description, type: 'integer', format: 'int32', minimum: 0, maximum: 60 });

/**
 * The headers of API.md §1 on every response to an account's key or session: the per-minute limit
 * of its tier, what is left of it and when the window resets. Responses to the operator key, and
 * a 401 or 403 refused before the key's account was known, carry none.
 */
export const RATE_LIMIT_HEADERS: Record<string, ResponseHeader> = {
  'X-RateLimit-Limit': requestCount("Requests a minute allowed to the key's tier."),
  'X-RateLimit-Remaining': requestCount('Requests left in the current minute.'),
  'X-RateLimit-Reset': secondsInWindow('Seconds until the current minute ends and the count starts again.'),
};

/** Sent with a per-minute 429 (not with QUOTA_EXCEEDED, whose body says when the month resets). */
const RETRY_AFTER_HEADER: Record<string, ResponseHeader> = {
  'Retry-After': secondsInWindow('Seconds to wait before trying again; absent when the monthly quota is used up.'),
};

/**
 * The headers documented on the response of `status` (`200`, `4XX`, …): the rate-limit headers on
 * every 2XX and 4XX of an operation that takes an account's credential (`rateLimited`), and
 * Retry-After on every 429. The OpenAPI plugin applies it to each route from its `config`, so a
 * route that declares `scope` or `authenticated` (and {@link AUTH_ERRORS}) needs nothing more.
 */
export function rateLimitHeaders(status: string, rateLimited: boolean): Record<string, ResponseHeader> | undefined {
  const counted = rateLimited && /^[24]/.test(status);
  const retry = status === '429';
  if (!counted && !retry) return undefined;
  return { ...(counted ? RATE_LIMIT_HEADERS : {}), ...(retry ? RETRY_AFTER_HEADER : {}) };
}
