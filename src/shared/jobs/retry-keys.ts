import type { Db, DbClient } from '../db/pool.js';

/**
 * Thrown inside a retry's transaction when its Idempotency-Key was taken meanwhile by another
 * retry (a repeat sent before the first one's answer): nothing of this retry is written, and the
 * request is answered as the repeat it is.
 */
export class RetryKeyTaken extends Error {
  constructor() {
    super('the retry key was taken by a concurrent request');
  }
}

/** The job a retry with this Idempotency-Key ran again in the last 24 hours (migration 028), or null. */
export async function jobRetriedWithKey(db: Db, accountId: string, key: string): Promise<string | null> {
  const { rows } = await db.query<{ job_id: string }>(
    `SELECT job_id FROM job_retry_keys WHERE account_id = $1 AND idempotency_key = $2 AND created_at >= now() - interval '24 hours'`,
    [accountId, key],
  );
  return rows[0]?.job_id ?? null;
}

/**
 * Takes the key for a retry of job `jobId`, in the transaction that runs the job again; a key a
 * concurrent retry holds is waited for, and once that one commits this throws {@link RetryKeyTaken}.
 */
export async function takeRetryKey(client: DbClient, jobId: string, key: string): Promise<void> {
  // A key taken more than 24 hours ago is free again.
  await client.query(
    `DELETE FROM job_retry_keys WHERE idempotency_key = $2 AND created_at < now() - interval '24 hours'
       AND account_id = (SELECT account_id FROM jobs WHERE id = $1)`,
    [jobId, key],
  );
  const { rowCount } = await client.query(
    `INSERT INTO job_retry_keys (account_id, idempotency_key, job_id) SELECT account_id, $2, id FROM jobs WHERE id = $1
     ON CONFLICT DO NOTHING`,
    [jobId, key],
  );
  if (rowCount === 0) throw new RetryKeyTaken();
}

/** Removes the retry keys taken more than 24 hours ago (the cleanup's); returns how many. */
export async function deleteExpiredRetryKeys(db: Db): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM job_retry_keys WHERE created_at < now() - interval '24 hours'`);
  return rowCount ?? 0;
}
