import type { Db } from '../db/pool.js';

/** A callback delivery claimed by one worker. */
export interface DueCallback {
  jobId: string;
  accountId: string;
  url: string;
  attempts: number;
  /** The end of the run this delivery reports (`finished_at` as text): a retry makes a new run. */
  run: string;
}

/**
 * Claims up to `limit` due deliveries for `leaseSeconds`: their next attempt is pushed past the
 * lease, so another process only takes one over if this one dies before recording the outcome.
 */
export async function claimDueCallbacks(db: Db, limit: number, leaseSeconds: number): Promise<DueCallback[]> {
  const { rows } = await db.query<{ id: string; account_id: string; callback_url: string; callback_attempts: number; run: string }>(
    `UPDATE jobs SET callback_next_at = now() + make_interval(secs => $2)
     WHERE id IN (
       SELECT id FROM jobs
       WHERE callback_url IS NOT NULL AND callback_delivered_at IS NULL AND status <> 'processing'
         AND coalesce(callback_next_at, '-infinity') <= now()
       ORDER BY callback_next_at NULLS FIRST
       LIMIT $1
       FOR UPDATE SKIP LOCKED)
     RETURNING id, account_id, callback_url, callback_attempts, finished_at::text AS run`,
    [limit, leaseSeconds],
  );
  return rows.map((row) => ({ jobId: row.id, accountId: row.account_id, url: row.callback_url, attempts: row.callback_attempts, run: row.run }));
}

/**
 * Only the run a delivery was claimed for: a job retried while its callback was on the way has
 * its callback state reset for the new run, which an outcome of the old one must not overwrite.
 */
const SAME_RUN = `id = $1 AND finished_at::text = $2 AND status <> 'processing'`;

/** Records a delivered callback. */
export async function markCallbackDelivered(db: Db, callback: Pick<DueCallback, 'jobId' | 'run'>): Promise<void> {
  await db.query(
    `UPDATE jobs SET callback_delivered_at = now(), callback_attempts = callback_attempts + 1,
       callback_next_at = NULL, callback_last_error = NULL WHERE ${SAME_RUN}`,
    [callback.jobId, callback.run],
  );
}

/**
 * Records a failed attempt: the next one after `retryInSeconds`, or none (`null`: given up; the
 * delivery stays recorded with its last error).
 */
export async function markCallbackFailed(
  db: Db,
  callback: Pick<DueCallback, 'jobId' | 'run'>,
  error: string,
  retryInSeconds: number | null,
): Promise<void> {
  await db.query(
    `UPDATE jobs SET callback_attempts = callback_attempts + 1, callback_last_error = $3,
       callback_next_at = CASE WHEN $4::float8 IS NULL THEN 'infinity'::timestamptz
                               ELSE now() + make_interval(secs => $4::float8) END
     WHERE ${SAME_RUN}`,
    [callback.jobId, callback.run, error.slice(0, 500), retryInSeconds],
  );
}
