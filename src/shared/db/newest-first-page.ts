import { boundedRows, byteBoundedPage, type BoundedRow, type BoundedRows } from './byte-bounded-page.js';
import type { Db } from './pool.js';

/** Where the next page of a newest-first list starts: the last row's `created_at` key and id. */
export interface NewestFirstAfter {
  createdAt: string;
  id: string;
}

/**
 * One page of an account's rows of `table`, newest first, keyed by `(created_at, id)`, and whether
 * there is more: at most `limit` rows and PAGE_BYTE_BUDGET bytes of them ({@link byteBoundedPage}:
 * an import profile's or a schedule's `columns` may map 500 long names). `table` and `columns` (a
 * list of plain column names) are the caller's constants, never client input; the account and the
 * position are bound parameters.
 */
export async function newestFirstPage<Row>(
  db: Db,
  table: string,
  columns: string,
  accountId: string,
  query: { limit: number; after?: NewestFirstAfter },
): Promise<BoundedRows<Row & { created_at_key: string }>> {
  const names = [...columns.split(',').map((name) => name.trim()), 'created_at_key'];
  const { rows } = await db.query<BoundedRow<Row & { created_at_key: string }>>(
    byteBoundedPage(
      `SELECT ${columns}, created_at::text AS created_at_key FROM ${table}
       WHERE account_id = $1
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC
       LIMIT $4::int`,
      names,
      'created_at DESC, id DESC',
      '$4::int',
    ),
    [accountId, query.after?.createdAt ?? null, query.after?.id ?? null, query.limit + 1],
  );
  return boundedRows(rows);
}
