import { withTransaction, type Db } from '../db/pool.js';
import { JOB_COLUMNS, jobRowQuery } from './job-columns.js';
import type { JobRow } from './job-row.js';

/** The sentence of a cancelled job's `detail`. */
const CANCELLED_DETAIL = 'The job was cancelled; nothing more was written.';

/**
 * Ends a job that is still `processing` as `cancelled` with JOB_CANCELLED. The row lock orders it
 * against an import's final transaction (which locks the row and commits only while it is still
 * `processing`): whichever comes first wins. Returns the row as it now is.
 */
export async function cancelJobRow(db: Db, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    jobRowQuery(
      `UPDATE jobs SET status = 'cancelled', phase = 'done', error_code = 'JOB_CANCELLED', detail = $2,
         finished_at = clock_timestamp(), updated_at = clock_timestamp()
       WHERE id = $1 AND status = 'processing'
       RETURNING ${JOB_COLUMNS}`,
      [id, CANCELLED_DETAIL],
    ),
  );
  return rows[0] ?? null;
}

/** A job row that a retry has put back to `processing`, with the number of its new run. */
export type RetriedJobRow = JobRow & { run_number: number };

/**
 * Puts a failed or cancelled job back to `processing`/`queued` in its next run (`run_number`, see
 * migration 016) with its counts cleared and its old report and progress removed, so it runs
 * again from its stored input (and calls its callback_url again when it ends). Returns null when
 * the job was not failed or cancelled (any more).
 */
export async function resetJobForRetry(db: Db, id: string): Promise<RetriedJobRow | null> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<RetriedJobRow>(
      jobRowQuery(
        `UPDATE jobs SET status = 'processing', phase = 'queued', run_number = run_number + 1, error_code = NULL, detail = NULL,
           rows_total = NULL, rows_processed = 0, rows_succeeded = 0, rows_failed = 0, rows_created = 0,
           rows_updated = 0, rows_unchanged = 0, attempts = 0, started_at = NULL, finished_at = NULL,
           callback_attempts = 0, callback_next_at = NULL, callback_delivered_at = NULL, callback_last_error = NULL,
           updated_at = now()
         WHERE id = $1 AND status IN ('failed', 'cancelled')
         RETURNING ${JOB_COLUMNS}, run_number`,
        [id],
      ),
    );
    if (!rows[0]) return null;
    await client.query('DELETE FROM job_row_errors WHERE job_id = $1', [id]);
    // A re-run starts over: an enrichment does not resume where the ended run stopped.
    await client.query('DELETE FROM enrichment_checkpoints WHERE job_id = $1', [id]);
    return rows[0];
  });
}
