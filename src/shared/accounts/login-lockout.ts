import { withTransaction, type Db } from '../db/pool.js';

/** Failed logins within this window lock the account… */
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
/** …when there are this many of them… */
export const MAX_FAILURES = 5;
/** …for this long. */
export const LOCK_MS = 15 * 60 * 1000;

/**
 * Records a failed login at `now`. When it is the MAX_FAILURES-th within FAILURE_WINDOW_MS, locks
 * the account until `now + LOCK_MS` and returns that time; otherwise returns null. The account row
 * is locked while counting, so concurrent failures are all counted.
 */
export async function recordLoginFailure(db: Db, accountId: string, now: Date): Promise<Date | null> {
  return withTransaction(db, async (client) => {
    await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
    const windowStart = new Date(now.getTime() - FAILURE_WINDOW_MS);
    await client.query('DELETE FROM login_failures WHERE account_id = $1 AND failed_at <= $2', [accountId, windowStart]);
    await client.query('INSERT INTO login_failures (account_id, failed_at) VALUES ($1, $2)', [accountId, now]);
    const { rows } = await client.query<{ failures: number }>(
      'SELECT count(*)::int AS failures FROM login_failures WHERE account_id = $1',
      [accountId],
    );
    if (rows[0]!.failures < MAX_FAILURES) return null;
    const lockedUntil = new Date(now.getTime() + LOCK_MS);
    await client.query('UPDATE accounts SET locked_until = $2 WHERE id = $1', [accountId, lockedUntil]);
    // The lock replaces the failures: after it ends, the account starts with a clean count.
    await client.query('DELETE FROM login_failures WHERE account_id = $1', [accountId]);
    return lockedUntil;
  });
}

/** Forgets the failed logins of an account after a successful one. */
export async function clearLoginFailures(db: Db, accountId: string): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE account_id = $1', [accountId]);
}
