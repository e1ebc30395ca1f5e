import type { Db } from './pool.js';

/** Where the next page of a newest-first list starts: the last row's `created_at` key and id. */
export interface NewestFirstAfter {
  createdAt: string;
  id: string;
}

/**
 * One page (plus one row, to tell whether there is more) of an account's rows of `table`, newest
 * first, keyed by `(created_at, id)`. `table` and `columns` are the caller's constants, never
 * client input; the account and the position are bound parameters.
 */
export async function newestFirstPage<Row>(
  db: Db,
  table: string,
  columns: string,
  accountId: string,
  query: { limit: number; after?: NewestFirstAfter },
): Promise<Array<Row & { created_at_key: string }>> {
  const { rows } = await db.query<Row & { created_at_key: string }>(
    `SELECT ${columns}, created_at::text AS created_at_key FROM ${table}
     WHERE account_id = $1
       AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $4`,
    [accountId, query.after?.createdAt ?? null, query.after?.id ?? null, query.limit + 1],
  );
  return rows;
}
