import { CALLBACK_NEXT_AT_OF_RETRY } from '../callbacks/callback-queries.js';
import { withTransaction, type Db, type DbClient } from '../db/pool.js';
import { JOB_COLUMNS, jobRowQuery } from './job-columns.js';
import type { JobRow } from './job-row.js';
import { takeRetryKey } from './retry-keys.js';

/**
 * A job's row is locked by its run only in short transactions (its final one, which may publish a
 * large report first, or a page of an enrichment): a cancel or retry waits for it, bounded by the
 * API's statement timeout as any statement, not by its shorter lock timeout (API_LOCK_TIMEOUT_MS,
 * meant for the products an import holds for its whole run), which would refuse it with a 503 for
 * a wait of a few seconds.
 */
async function waitForJobRow(client: DbClient): Promise<void> {
  await client.query('SET LOCAL lock_timeout = 0');
}

/** The sentence of a cancelled job's `detail`. */
const CANCELLED_DETAIL = 'The job was cancelled; nothing more was written.';

/**
 * Ends a job that is still `processing` as `cancelled` with JOB_CANCELLED. The row lock orders it
 * against an import's final transaction (which locks the row and commits only while it is still
 * `processing`): whichever comes first wins. Returns the row as it now is.
 */
export async function cancelJobRow(db: Db, id: string): Promise<JobRow | null> {
  return withTransaction(db, async (client) => {
    await waitForJobRow(client);
    const { rows } = await client.query<JobRow>(
      jobRowQuery(
        `UPDATE jobs SET status = 'cancelled', phase = 'done', error_code = 'JOB_CANCELLED', detail = $2,
           finished_at = clock_timestamp(), updated_at = clock_timestamp()
         WHERE id = $1 AND status = 'processing'
         RETURNING ${JOB_COLUMNS}`,
        [id, CANCELLED_DETAIL],
      ),
    );
    return rows[0] ?? null;
  });
}

/** A job row that a retry has put back to `processing`, with the number of its new run. */
export type RetriedJobRow = JobRow & { run_number: number };

/**
 * Puts a failed or cancelled job back to `processing`/`queued` in its next run (`run_number`, see
 * migration 016), so it runs again from its stored input (and calls its callback_url again when it
 * ends, not before a callback of the run it leaves that may be on its way: {@link CALLBACK_NEXT_AT_OF_RETRY}). An import or export starts over: its counts are cleared and its old report removed. An
 * enrichment resumes after its last settled product (README "Resumable"), since each lookup costs
 * the account's provider quota: it keeps its checkpoint, the products it took, and the counts and
 * report entries of the settled products (see {@link keepEnrichmentProgress}). Returns null when
 * the job was not failed or cancelled (any more), or is an import whose upload the retention
 * removed: the cleanup forgets the upload in the transaction that removes it, with the row locked,
 * so a retry meanwhile waits and then sees it gone. With an Idempotency-Key, the key is taken first
 * in the same transaction ({@link takeRetryKey}), and a repeat holding it makes this throw.
 */
export async function resetJobForRetry(db: Db, id: string, idempotencyKey?: string): Promise<RetriedJobRow | null> {
  return withTransaction(db, async (client) => {
    await waitForJobRow(client);
    if (idempotencyKey !== undefined) await takeRetryKey(client, id, idempotencyKey);
    const { rows } = await client.query<RetriedJobRow>(
      jobRowQuery(
        `UPDATE jobs SET status = 'processing', phase = 'queued', run_number = run_number + 1, error_code = NULL, detail = NULL,
           rows_total = NULL, rows_processed = 0, rows_succeeded = 0, rows_failed = 0, rows_created = 0,
           rows_updated = 0, rows_unchanged = 0, attempts = 0, started_at = NULL, finished_at = NULL,
           callback_attempts = 0, callback_next_at = ${CALLBACK_NEXT_AT_OF_RETRY}, callback_delivered_at = NULL, callback_last_error = NULL,
           updated_at = now()
         WHERE id = $1 AND status IN ('failed', 'cancelled') AND (type <> 'import' OR input_path IS NOT NULL)
         RETURNING ${JOB_COLUMNS}, run_number`,
        [id],
      ),
    );
    const reset = rows[0];
    if (!reset) return null;
    const kept = reset.type === 'enrichment' ? await keepEnrichmentProgress(client, id) : null;
    if (kept) return { ...reset, ...kept };
    await client.query('DELETE FROM job_row_errors WHERE job_id = $1', [id]);
    return reset;
  });
}

type SettledCounts = Pick<JobRow, 'rows_total' | 'rows_processed' | 'rows_succeeded' | 'rows_updated' | 'rows_unchanged' | 'rows_failed'>;

/**
 * Shows the settled counts of a retried enrichment's checkpoint on its job row, as an attempt
 * handed back keeps them, and drops the report entries after its position (an ended attempt may
 * have left some of a page it did not settle). The provider's monthly quota is forgotten: the
 * retry may come after the quota renewed, and a quota still used up says so at its first call.
 * So the products it left not looked up (settled as PROVIDER_QUOTA_EXCEEDED) are done again: the
 * checkpoint goes back to where the job stood just before the first of them, with its counts then
 * (noted by the worker, migration 019), and their report entries go.
 * Null when the job has no checkpoint (it never started, or the cleanup removed it): it starts over.
 */
async function keepEnrichmentProgress(client: DbClient, id: string): Promise<SettledCounts | null> {
  // SET reads the columns as they were: the quota's mark, when there is one, replaces the place.
  const { rows } = await client.query<SettledCounts>(
    `WITH settled AS (
       UPDATE enrichment_checkpoints SET quota_detail = NULL,
         position = coalesce(quota_position, position),
         last_ean = CASE WHEN quota_position IS NULL THEN last_ean ELSE quota_last_ean END,
         rows_changed = coalesce(quota_rows_changed, rows_changed),
         rows_unchanged = coalesce(quota_rows_unchanged, rows_unchanged),
         rows_failed = coalesce(quota_rows_failed, rows_failed),
         quota_position = NULL, quota_last_ean = NULL, quota_rows_changed = NULL, quota_rows_unchanged = NULL,
         quota_rows_failed = NULL
       WHERE job_id = $1
       RETURNING position, rows_total, rows_changed, rows_unchanged, rows_failed
     )
     UPDATE jobs j SET rows_total = s.rows_total, rows_processed = s.position, rows_succeeded = s.rows_changed,
       rows_updated = s.rows_changed, rows_unchanged = s.rows_unchanged, rows_failed = s.rows_failed
     FROM settled s WHERE j.id = $1
     RETURNING j.rows_total, j.rows_processed, j.rows_succeeded, j.rows_updated, j.rows_unchanged, j.rows_failed`,
    [id],
  );
  const kept = rows[0];
  if (!kept) return null;
  await client.query('DELETE FROM job_row_errors WHERE job_id = $1 AND row > $2', [id, kept.rows_processed]);
  return kept;
}
