import type { Db, DbClient } from '../db/pool.js';

/** Locks the account's row until the transaction ends and returns the end of its login lock. */
export async function lockAccountForLogin(client: DbClient, accountId: string): Promise<Date | null> {
  const { rows } = await client.query<{ locked_until: Date | null }>(
    'SELECT locked_until FROM accounts WHERE id = $1 FOR UPDATE',
    [accountId],
  );
  return rows[0]?.locked_until ?? null;
}

/**
 * Counts one failed login of the account at `now`, after forgetting those at or before
 * `windowStart`; returns how many the window now holds.
 */
export async function countLoginFailure(client: DbClient, accountId: string, now: Date, windowStart: Date): Promise<number> {
  await client.query('DELETE FROM login_failures WHERE account_id = $1 AND failed_at <= $2', [accountId, windowStart]);
  await client.query('INSERT INTO login_failures (account_id, failed_at) VALUES ($1, $2)', [accountId, now]);
  const { rows } = await client.query<{ attempts: number }>(
    'SELECT count(*)::int AS attempts FROM login_failures WHERE account_id = $1',
    [accountId],
  );
  return rows[0]!.attempts;
}

/** Locks the account's logins until `until`, in place of its counted failures. */
export async function lockLogins(client: DbClient, accountId: string, until: Date): Promise<void> {
  await client.query('UPDATE accounts SET locked_until = $2 WHERE id = $1', [accountId, until]);
  await client.query('DELETE FROM login_failures WHERE account_id = $1', [accountId]);
}

/** Forgets the account's counted failures and lifts its login lock. */
export async function clearLoginFailures(db: Db, accountId: string): Promise<void> {
  await db.query(
    `WITH forgotten AS (DELETE FROM login_failures WHERE account_id = $1)
     UPDATE accounts SET locked_until = NULL WHERE id = $1 AND locked_until IS NOT NULL`,
    [accountId],
  );
}
