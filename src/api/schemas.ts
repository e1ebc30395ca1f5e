import { z } from 'zod';
import { MAX_CURSOR_LENGTH } from '../shared/input-bounds.js';
import { answeredInstant } from '../shared/instant.js';
import { JOB_ERROR_CODES, JOB_STATUSES, JOB_TYPES } from '../shared/jobs/job-row.js';
import { noted, type ResponseHeader } from '../shared/http/response-notes.js';

/**
 * Schemas shared by the routes: they validate and serialize responses, and the OpenAPI document
 * is generated from them. Every route lists its responses, errors included, with these.
 */

export { errorCodes, errorEnvelopeSchema, errorResponses, errorSentences } from '../shared/http/error-envelope.js';

/** `Location` of an answer: where the resource it created or accepted is read. */
export function locationHeader(description: string): Record<string, ResponseHeader> {
  return { Location: { description, required: true, type: 'string', format: 'uri-reference' } };
}

/** The headers of a download: `Content-Disposition: attachment` with the file's name. */
export const DOWNLOAD_HEADERS: Record<string, ResponseHeader> = {
  'Content-Disposition': {
    description: 'attachment, with the name to save the file under',
    required: true,
    type: 'string',
    pattern: '^attachment; filename="[^"]+"$',
  },
};

/** A CSV report's 200 (errors.csv, rows.csv): streamed, never serialized, so documented as text. */
export const csvDownloadResponse = (description: string) =>
  noted({ description, content: { 'text/csv': { schema: z.any().meta({ type: 'string' }) } } }, { headers: DOWNLOAD_HEADERS });

/** Errors any authenticated route can answer with (credentials, limits, backing services). */
export const AUTH_ERRORS = [401, 403, 429, 500, 503] as const;

/** `202 {id, status}` of a job-starting POST, with `Location: /v1/jobs/{id}` (API.md §4). */
export const jobAcceptedSchema = noted(z.object({ id: z.uuid(), status: z.enum(JOB_STATUSES) }).meta({ id: 'JobAccepted' }), {
  headers: locationHeader('The job: `/v1/jobs/{id}`, to poll until it ends'),
});

const count = z.number().int();

/** The job resource of API.md §4. */
export const jobResourceSchema = z
  .object({
    id: z.uuid(),
    account_id: z.uuid().optional().describe('Operator key only: the account the job belongs to. Absent from what an account key reads.'),
    type: z.enum(JOB_TYPES),
    status: z.enum(JOB_STATUSES),
    phase: z.enum(['queued', 'running', 'finalizing', 'done']),
    error_code: z.enum(JOB_ERROR_CODES).nullable(),
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
    created_at: answeredInstant(),
    started_at: answeredInstant().nullable(),
    finished_at: answeredInstant().nullable(),
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
  ).meta({
    description:
      'The most items of a page (1..500, default 50). A page of products, jobs, import profiles or export schedules also ' +
      'stops before its items pass 4 MiB of JSON (always one item at least): large items come fewer to a page, with a ' +
      'next_cursor. Page on until next_cursor is null; a page shorter than limit is no sign of the end.',
  }),
  cursor: z.string().max(MAX_CURSOR_LENGTH).optional().meta({ description: 'The next_cursor of the previous page' }),
};

/** A cursor-paginated list of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}
