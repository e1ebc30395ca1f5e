import type { Db } from '../db/pool.js';
import { PRODUCT_COLUMNS, type ProductResource } from './product-queries.js';
import { SEARCH_BACKLOG_EXISTS } from './product-search.js';

/** Filters and keyset position of GET /v1/products. */
export interface ProductListQuery {
  brand?: string | undefined;
  category?: string | undefined;
  /** Products written at or after this instant (ISO 8601). */
  updatedSince?: string | undefined;
  /** Case-insensitive substring of the name, matched literally (`%` and `_` are not wildcards). */
  nameContains?: string | undefined;
  /** The EAN of the last product of the previous page. */
  afterEan?: string | undefined;
  limit: number;
}

/** Escapes LIKE's wildcards and its escape character, so the text matches as written. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * The statement of one page: only the filters the client sent become conditions, each written
 * the way its index can serve it — `brand = $n` / `category = $n` for (account_id, brand|category)
 * and `ean > $n` for the primary key. A catch-all form (`$n IS NULL OR …`) would leave the planner
 * a condition it cannot always match to an index. Exported so that a test can EXPLAIN exactly what
 * runs.
 *
 * `q` (name contains, ILIKE '%…%' escaped) is served by the trigram index of product_search, which
 * imports do not write (migrations/010_name_search.sql). The statement has two branches, and the
 * account's search backlog decides, in the statement's one snapshot, which one runs:
 * - no backlog: candidates from product_search's trigram index, each checked against the current
 *   name in products, so a search row that is behind never shows a product that no longer matches;
 * - backlog (an import committed and product_search has not caught up yet): products itself,
 *   walked in EAN order, which the API's statement timeout bounds.
 * Either way the answer is exactly the products whose name contains `q`.
 */
export function productListStatement(accountId: string, query: ProductListQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [accountId];
  const conditions = ['account_id = $1'];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const after = query.afterEan === undefined ? null : param(query.afterEan);
  if (after) conditions.push(`ean > ${after}`);
  if (query.brand !== undefined) conditions.push(`brand = ${param(query.brand)}`);
  if (query.category !== undefined) conditions.push(`category = ${param(query.category)}`);
  if (query.updatedSince !== undefined) conditions.push(`updated_at >= ${param(query.updatedSince)}::timestamptz`);
  const pattern = query.nameContains === undefined ? null : param(`%${escapeLike(query.nameContains)}%`);
  if (pattern) conditions.push(`name ILIKE ${pattern}`);
  const limit = param(query.limit + 1);
  const page = (...extra: string[]) =>
    `SELECT ${PRODUCT_COLUMNS} FROM products WHERE ${[...conditions, ...extra].join(' AND ')} ORDER BY ean LIMIT ${limit}`;
  if (!pattern) return { text: page(), values };
  const candidates = `SELECT s.ean FROM product_search s
    WHERE s.account_id = $1 AND s.name ILIKE ${pattern}${after ? ` AND s.ean > ${after}` : ''}`;
  return {
    text: `(${page(SEARCH_BACKLOG_EXISTS)})
      UNION ALL
      (${page(`NOT ${SEARCH_BACKLOG_EXISTS} AND ean IN (${candidates})`)})
      ORDER BY ean LIMIT ${limit}`,
    values,
  };
}

/**
 * One page of the account's catalog in EAN order, plus one row to tell whether another page
 * follows. Keyset on the primary key (account_id, ean): a page starts strictly after the last EAN
 * seen, so inserts and deletes elsewhere never shift it (no duplicate, no skipped product),
 * unlike OFFSET.
 */
export async function listProducts(db: Db, accountId: string, query: ProductListQuery): Promise<ProductResource[]> {
  const { text, values } = productListStatement(accountId, query);
  const { rows } = await db.query<ProductResource>(text, values);
  return rows;
}
