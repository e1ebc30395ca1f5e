import type pg from 'pg';
import { jsonRow } from '../db/json-row.js';
import { TIMESTAMPS_AS_TEXT } from '../db/timestamps.js';
import type { JobRow } from './job-row.js';

/**
 * The columns of a job row as `JobRow` reads them. Not the uploaded header (`input_columns`): it
 * can hold a million names, and a page of such jobs would exhaust the API's memory; the report
 * that needs it reads it alone (`findInputColumns`).
 */
export const JOB_FIELDS = [
  'id', 'account_id', 'type', 'status', 'phase', 'error_code', 'detail', 'options', 'rows_total', 'rows_processed',
  'rows_succeeded', 'rows_failed', 'rows_created', 'rows_updated', 'rows_unchanged', 'input_path', 'input_bytes',
  'attempts', 'created_at', 'started_at', 'finished_at', 'result_path', 'result_bytes', 'schedule_id',
] as const satisfies readonly (keyof JobRow)[];

/** {@link JOB_FIELDS} as a select list, read with {@link jobRowQuery}. */
export const JOB_COLUMNS = JOB_FIELDS.join(', ');

/**
 * A query of job rows ({@link JOB_COLUMNS}): their timestamps stay the text PostgreSQL printed
 * (`JobRow`), so a job answered as JSON skips a Date parsed only to be formatted again.
 */
export function jobRowQuery(text: string, values: unknown[], name?: string): pg.QueryConfig {
  return { ...(name && { name }), text, values, types: TIMESTAMPS_AS_TEXT };
}

const TIMESTAMPS = new Set<string>(['created_at', 'started_at', 'finished_at']);

/**
 * The job row as one JSON array (timestamps as PostgreSQL's text, as {@link jobRowQuery} reads
 * them): what the polled job lookup selects and reads, with the same values as its columns.
 */
export const JOB_ARRAY = jsonRow<JobRow>(JOB_FIELDS.map((field) => (TIMESTAMPS.has(field) ? [field, `${field}::text`] : field)));
