import { isoTimestamp } from '../db/timestamps.js';

/** Job types, statuses and phases of the job resource (API.md §4). */
export const JOB_TYPES = ['import', 'export', 'enrichment'] as const;
export type JobType = (typeof JOB_TYPES)[number];
export const JOB_STATUSES = ['processing', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type JobPhase = 'queued' | 'running' | 'finalizing' | 'done';
/**
 * The job-level error codes (API.md §1): a failed job's, one per type ({@link JOB_FAILURE_CODES}),
 * and a cancelled job's. Every value the `error_code` column is given is one of these.
 */
export const JOB_ERROR_CODES = ['IMPORT_FAILED', 'EXPORT_FAILED', 'ENRICHMENT_FAILED', 'JOB_CANCELLED'] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/** The detail of an import failed because its stored upload was missing on every attempt (API.md §4: IMPORT_FAILED). */
export const LOST_UPLOAD_DETAIL =
  'The upload of this import is missing from storage, so it could not be read; no rows were imported. Upload the file again.';

/**
 * The detail of a job failed once its attempts ran out on an internal error, which a later retry
 * may get past (an import's nothing was imported: it is one transaction).
 */
export function attemptsRanOutDetail(type: JobType, attemptsMade: number): string {
  const nothingWritten = type === 'import' ? '; no rows were imported' : '';
  return `The ${type} could not be completed after ${attemptsMade} attempt${attemptsMade === 1 ? '' : 's'} because of an internal error${nothingWritten}. Retry it later.`;
}

const ATTEMPTS_RAN_OUT = /^The import could not be completed after \d+ attempts? because of an internal error/;

/**
 * Whether import `job` ended without reading its rows to the end, so that it has no rows.csv (every
 * row would look good): cancelled (the cancel undid its report), failed because its upload was
 * missing, or failed once its attempts ran out on an internal error (none published a report).
 */
export function endedUnread(job: Pick<JobRow, 'status' | 'detail'>): boolean {
  if (job.status === 'cancelled') return true;
  return job.status === 'failed' && (job.detail === LOST_UPLOAD_DETAIL || ATTEMPTS_RAN_OUT.test(job.detail ?? ''));
}

/**
 * A row of the `jobs` table: PostgreSQL is the truth for a job's status, counts and report. Its
 * timestamps are the text PostgreSQL prints (`jobRowQuery`); {@link isoTimestamp} gives their
 * contract form.
 */
export interface JobRow {
  id: string;
  account_id: string;
  type: JobType;
  status: JobStatus;
  phase: JobPhase;
  error_code: JobErrorCode | null;
  detail: string | null;
  options: Record<string, unknown>;
  rows_total: number | null;
  rows_processed: number;
  rows_succeeded: number;
  rows_failed: number;
  rows_created: number;
  rows_updated: number;
  rows_unchanged: number;
  input_path: string | null;
  input_bytes: number | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The export schedule that started the job, if any. */
  schedule_id?: string | null;
  /** An export's file relative to DATA_DIR; null before completion and after the retention removed it. */
  result_path?: string | null;
  result_bytes?: number | null;
}

/** Row counts of a job, as the `progress` object reports them. */
export interface JobCounts {
  rowsTotal: number | null;
  rowsProcessed: number;
  rowsSucceeded: number;
  rowsFailed: number;
  rowsCreated: number;
  rowsUpdated: number;
  rowsUnchanged: number;
}

/**
 * A job's options as its resource shows them: never a `callback_url`, whose address often holds
 * the receiver's secret and which any key with `jobs:read` would read. Only an enrichment that a
 * previous release's API accepted has one there (since migration 020 it is kept in the callback
 * outbox alone, and a worker moves it there when it takes the job: see moveCallbackUrlToOutbox).
 */
function shownOptions(options: Record<string, unknown>): Record<string, unknown> {
  if (!Object.hasOwn(options, 'callback_url')) return options;
  const { callback_url: _callbackUrl, ...shown } = options;
  return shown;
}

/** The job resource of the HTTP contract. */
export function toJobResource(job: JobRow) {
  const self = `/v1/jobs/${job.id}`;
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    phase: job.phase,
    error_code: job.error_code,
    detail: job.detail,
    progress: {
      rows_total: job.rows_total,
      rows_processed: job.rows_processed,
      rows_succeeded: job.rows_succeeded,
      rows_failed: job.rows_failed,
      rows_created: job.rows_created,
      rows_updated: job.rows_updated,
      rows_unchanged: job.rows_unchanged,
    },
    options: shownOptions(job.options),
    schedule_id: job.schedule_id ?? null,
    created_at: isoTimestamp(job.created_at),
    started_at: job.started_at === null ? null : isoTimestamp(job.started_at),
    finished_at: job.finished_at === null ? null : isoTimestamp(job.finished_at),
    links: {
      self,
      errors: `${self}/errors`,
      errors_csv: `${self}/errors.csv`,
      result: job.type === 'export' && job.status === 'completed' && job.result_path ? `${self}/result` : null,
      // The whole upload with each row's problems, the file to fix after an import failed. One that
      // ended without reading its rows (see endedUnread) has no report: every row would look good.
      rows_csv: job.type === 'import' && job.status !== 'processing' && !endedUnread(job) && job.input_path ? `${self}/rows.csv` : null,
    },
  };
}

export type JobResource = ReturnType<typeof toJobResource>;

/**
 * The job resource as the operator key reads it: with `account_id`, the account the job belongs
 * to, which an operator needs to act on it (GET /v1/jobs?account_id=, the admin account routes).
 * Only for the operator: the resource an account's key, its event stream and its callbacks get
 * is API.md's, without it ({@link toJobResource}).
 */
export function toOperatorJobResource(job: JobRow): JobResource & { account_id: string } {
  return { ...toJobResource(job), account_id: job.account_id };
}

/** The job-level error code of a failed job of each type (API.md §1). */
export const JOB_FAILURE_CODES: Record<JobType, JobErrorCode> = {
  import: 'IMPORT_FAILED',
  export: 'EXPORT_FAILED',
  enrichment: 'ENRICHMENT_FAILED',
};
