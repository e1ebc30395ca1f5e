import type { Db } from '../db/pool.js';
import { PRODUCT_COLUMNS, type ProductResource } from './product-queries.js';

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
 * the way its index can serve it — `brand = $n` / `category = $n` with `ean > $n` for
 * (account_id, brand|category, ean), and `name ILIKE '%…%'` (escaped) for the trigram index on
 * name. A catch-all form (`$n IS NULL OR …`) would leave the planner a condition it cannot
 * always match to an index. Exported so that a test can EXPLAIN exactly what runs.
 */
export function productListStatement(accountId: string, query: ProductListQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [accountId];
  const conditions = ['account_id = $1'];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(condition(`$${values.length}`));
  };
  if (query.afterEan !== undefined) add((p) => `ean > ${p}`, query.afterEan);
  if (query.brand !== undefined) add((p) => `brand = ${p}`, query.brand);
  if (query.category !== undefined) add((p) => `category = ${p}`, query.category);
  if (query.updatedSince !== undefined) add((p) => `updated_at >= ${p}::timestamptz`, query.updatedSince);
  if (query.nameContains !== undefined) add((p) => `name ILIKE ${p}`, `%${escapeLike(query.nameContains)}%`);
  values.push(query.limit + 1);
  return {
    text: `SELECT ${PRODUCT_COLUMNS} FROM products WHERE ${conditions.join(' AND ')} ORDER BY ean LIMIT $${values.length}`,
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
