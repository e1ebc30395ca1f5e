import type { Db } from '../db/pool.js';

/** Requests counted by an API process and not yet added to the durable count. */
export interface RequestCount {
  accountId: string;
  month: string;
  count: number;
}

/**
 * Adds API processes' counts to the durable monthly counts in one statement (one row per account
 * and month in `counts`: ON CONFLICT may touch a row once per statement).
 */
export async function addRequestCounts(db: Db, counts: RequestCount[]): Promise<void> {
  await db.query(
    `INSERT INTO usage_counters AS u (account_id, month, used)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])
     ON CONFLICT (account_id, month) DO UPDATE SET used = u.used + EXCLUDED.used`,
    [counts.map((row) => row.accountId), counts.map((row) => row.month), counts.map((row) => row.count)],
  );
}

/** Requests the account made in `month` ('YYYY-MM'). */
export async function requestsInMonth(db: Db, accountId: string, month: string): Promise<number> {
  const { rows } = await db.query<{ used: number }>(
    'SELECT used FROM usage_counters WHERE account_id = $1 AND month = $2',
    [accountId, month],
  );
  return rows[0]?.used ?? 0;
}
