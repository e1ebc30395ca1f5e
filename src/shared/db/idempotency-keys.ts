import type { Db, DbClient } from './pool.js';

/**
 * Frees the account's `key` in `table` where it was taken more than 24 hours ago, so that it can be
 * used again: an Idempotency-Key answers a repeat only within a day (jobs and export schedules).
 */
export async function releaseExpiredIdempotencyKey(
  db: Db | DbClient,
  table: 'jobs' | 'export_schedules',
  accountId: string,
  key: string,
): Promise<void> {
  await db.query(
    `UPDATE ${table} SET idempotency_key = NULL
     WHERE account_id = $1 AND idempotency_key = $2 AND created_at < now() - interval '24 hours'`,
    [accountId, key],
  );
}
