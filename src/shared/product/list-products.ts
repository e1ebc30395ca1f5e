import { boundedRows, byteBoundedPage, type BoundedRow, type BoundedRows } from '../db/byte-bounded-page.js';
import { queryUntilAborted } from '../db/cancellable-query.js';
import type { Db } from '../db/pool.js';
import { PRODUCT_COLUMN_NAMES, PRODUCT_COLUMNS, type ProductResource } from './product-queries.js';
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
 * the way an index can serve it — `ean > $n` for the primary key, `brand = $n` / `category = $n` /
 * `name ILIKE $n` for product_search's indexes. A catch-all form (`$n IS NULL OR …`) would leave
 * the planner a condition it cannot always match to an index. Exported so that a test can EXPLAIN
 * exactly what runs.
 *
 * `brand`, `category` and `q` (name contains, ILIKE '%…%' escaped) are served by the indexes of
 * product_search, which imports do not write (migrations/010_name_search.sql). With any of them
 * the statement has two branches, and the account's search backlog decides, in the statement's
 * one snapshot, which one runs:
 * - no backlog: candidates from product_search (every filter it holds), each checked against the
 *   current products row with every filter, so a search row that is behind never shows a product
 *   that no longer matches;
 * - backlog (an import committed and product_search has not caught up yet): products itself,
 *   walked in EAN order, which the API's statement timeout bounds.
 * Either way the answer is exactly the products that match. The page is then cut at
 * PAGE_BYTE_BUDGET bytes of product JSON ({@link byteBoundedPage}): at most `limit` products, fewer
 * when they are large.
 */
export function productListStatement(accountId: string, query: ProductListQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [accountId];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  // Each condition on the product, and the same one on its search row where product_search holds it.
  const conditions: string[] = ['account_id = $1'];
  const searched: string[] = [];
  const both = (condition: (alias: string) => string) => {
    conditions.push(condition(''));
    searched.push(condition('s.'));
  };
  if (query.afterEan !== undefined) {
    const after = param(query.afterEan);
    both((alias) => `${alias}ean > ${after}`);
  }
  if (query.brand !== undefined) {
    const brand = param(query.brand);
    both((alias) => `${alias}brand = ${brand}`);
  }
  if (query.category !== undefined) {
    const category = param(query.category);
    both((alias) => `${alias}category = ${category}`);
  }
  if (query.updatedSince !== undefined) conditions.push(`updated_at >= ${param(query.updatedSince)}::timestamptz`);
  // An empty q is no filter (every name contains the empty string): read as one, it sent the page
  // to product_search, whose every entry a filter that matches nothing (updated_since) then checks.
  const nameContains = query.nameContains === '' ? undefined : query.nameContains;
  if (nameContains !== undefined) {
    const pattern = param(`%${escapeLike(nameContains)}%`);
    both((alias) => `${alias}name ILIKE ${pattern}`);
  }
  const limit = param(query.limit + 1);
  const page = (...extra: string[]) =>
    `SELECT ${PRODUCT_COLUMNS} FROM products WHERE ${[...conditions, ...extra].join(' AND ')} ORDER BY ean LIMIT ${limit}`;
  const searchFilter = query.brand !== undefined || query.category !== undefined || nameContains !== undefined;
  const bounded = (text: string) => byteBoundedPage(text, PRODUCT_COLUMN_NAMES, 'ean', limit);
  if (!searchFilter) return { text: bounded(page()), values };
  // Each candidate's product is looked up by primary key (LIMIT 1 keeps the planner from turning
  // the lookup into a join that reads products on its own), so product_search drives the page.
  const candidates = `SELECT found.* FROM product_search s
    CROSS JOIN LATERAL (SELECT ${PRODUCT_COLUMNS} FROM products WHERE ${conditions.join(' AND ')} AND ean = s.ean LIMIT 1) found
    WHERE NOT ${SEARCH_BACKLOG_EXISTS} AND ${['s.account_id = $1', ...searched].join(' AND ')}
    ORDER BY s.ean LIMIT ${limit}`;
  return {
    text: bounded(`(${page(SEARCH_BACKLOG_EXISTS)})
      UNION ALL
      (${candidates})
      ORDER BY ean LIMIT ${limit}`),
    values,
  };
}

/**
 * One page of the account's catalog in EAN order, at most `limit` products and PAGE_BYTE_BUDGET
 * bytes of them, and whether another page follows. Keyset on the primary key (account_id, ean):
 * a page starts strictly after the last EAN seen, so inserts and deletes elsewhere never shift it
 * (no duplicate, no skipped product), unlike OFFSET.
 */
export async function listProducts(
  db: Db,
  accountId: string,
  query: ProductListQuery,
  signal?: AbortSignal,
): Promise<BoundedRows<ProductResource>> {
  const { text, values } = productListStatement(accountId, query);
  // Cancelled in PostgreSQL when `signal` aborts: a client that gave up on a slow search.
  const { rows } = await queryUntilAborted<BoundedRow<ProductResource>>(db, signal, text, values);
  return boundedRows(rows);
}
