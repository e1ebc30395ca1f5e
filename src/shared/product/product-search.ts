import type { DbClient } from '../db/pool.js';

/**
 * product_search: the (account, EAN, name, brand, category) rows through whose indexes
 * GET /v1/products finds its q, brand and category candidates, kept apart from products so that an
 * import never writes those indexes (see migrations/010_name_search.sql).
 *
 * Two kinds of writers keep it exact:
 * - Single-product writes (the API) and enrichment write their product's row in their own
 *   transaction, holding the account's search lock SHARED, so they never wait for one another.
 * - An import only marks the account (product_search_backlog) in its transaction; the catch-up
 *   after it (src/workers/search) copies products into product_search in batches, each holding
 *   the lock EXCLUSIVELY. A batch reads products after taking the lock, so a direct writer's
 *   committed row is in what it reads, and no direct writer commits while it writes: a batch
 *   never puts back a value that a direct writer has just replaced.
 */

/** What a product's search row holds besides its key. */
export interface SearchRow {
  ean: string;
  name: string;
  brand: string | null;
  category: string | null;
}

/** The advisory lock key of an account's search rows (held until the transaction ends). */
const SEARCH_LOCK_KEY = `hashtextextended('product_search:' || $1, 0)`;

/** Takes the account's search lock for a direct write (shared: direct writers run side by side). */
export async function lockSearchShared(client: DbClient, accountId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock_shared(${SEARCH_LOCK_KEY})`, [accountId]);
}

/** Takes the account's search lock for a batch of the catch-up (exclusive of direct writers). */
export async function lockSearchExclusive(client: DbClient, accountId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(${SEARCH_LOCK_KEY})`, [accountId]);
}

/**
 * Sets the search rows of these products after a direct write; a row already holding their name,
 * brand and category is left alone. The caller holds the search lock shared.
 */
export async function putSearchRows(client: DbClient, accountId: string, rows: SearchRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO product_search AS s (account_id, ean, name, brand, category)
     SELECT $1, ean, name, brand, category
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS written (ean, name, brand, category)
     ON CONFLICT (account_id, ean) DO UPDATE SET name = EXCLUDED.name, brand = EXCLUDED.brand, category = EXCLUDED.category
       WHERE (s.name, s.brand, s.category) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.brand, EXCLUDED.category)`,
    [accountId, rows.map((row) => row.ean), rows.map((row) => row.name), rows.map((row) => row.brand), rows.map((row) => row.category)],
  );
}

/** Removes a deleted product's search row. The caller holds the search lock shared. */
export async function removeSearchRow(client: DbClient, accountId: string, ean: string): Promise<void> {
  await client.query('DELETE FROM product_search WHERE account_id = $1 AND ean = $2', [accountId, ean]);
}

/**
 * Marks the account's search as behind its products, in the transaction that writes them (an
 * import): searches read products until the catch-up has run. `since` keeps the oldest start;
 * `version` changes every time, so a catch-up that began before this write keeps the mark.
 */
export async function markSearchBacklog(client: DbClient, accountId: string): Promise<void> {
  await client.query(
    `INSERT INTO product_search_backlog AS b (account_id, since) VALUES ($1, now())
     ON CONFLICT (account_id) DO UPDATE SET since = least(b.since, EXCLUDED.since), version = EXCLUDED.version`,
    [accountId],
  );
}

/** "The account's search is behind its products", as SQL for a statement whose $1 is the account id. */
export const SEARCH_BACKLOG_EXISTS = 'EXISTS (SELECT 1 FROM product_search_backlog WHERE account_id = $1)';
