import type { Db } from '../db/pool.js';

/**
 * Counts one request of the account in `month` ('YYYY-MM') unless that would pass `limit`
 * (null: unlimited). One atomic statement: concurrent requests never lose an increment and never
 * pass the limit together. Returns the new count, or null when the quota is used up.
 */
export async function countRequest(db: Db, accountId: string, month: string, limit: number | null): Promise<number | null> {
  if (limit !== null && limit <= 0) return null;
  const { rows } = await db.query<{ used: number }>(
    `INSERT INTO usage_counters AS u (account_id, month, used) VALUES ($1, $2, 1)
     ON CONFLICT (account_id, month) DO UPDATE SET used = u.used + 1
     WHERE $3::bigint IS NULL OR u.used < $3::bigint
     RETURNING used`,
    [accountId, month, limit],
  );
  return rows[0]?.used ?? null;
}

/** Requests the account made in `month` ('YYYY-MM'). */
export async function requestsInMonth(db: Db, accountId: string, month: string): Promise<number> {
  const { rows } = await db.query<{ used: number }>(
    'SELECT used FROM usage_counters WHERE account_id = $1 AND month = $2',
    [accountId, month],
  );
  return rows[0]?.used ?? 0;
}
