import { z } from 'zod';
import { JOB_STATUSES, JOB_TYPES } from '../shared/jobs/job-row.js';

/**
 * Schemas shared by the routes: they validate and serialize responses, and the OpenAPI document
 * is generated from them. Every route lists its responses, errors included, with these.
 */

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

/** The query parameters of every list (API.md: `limit` 1..500, default 50, and `cursor`). */
export const pageQueryFields = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional().meta({ description: 'The next_cursor of the previous page' }),
};

/** A cursor-paginated list of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}
