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
 * One page of the account's catalog in EAN order, plus one row to tell whether another page
 * follows. Keyset on the primary key (account_id, ean): a page starts strictly after the last EAN
 * seen, so inserts and deletes elsewhere never shift it (no duplicate, no skipped product),
 * unlike OFFSET.
 */
export async function listProducts(db: Db, accountId: string, query: ProductListQuery): Promise<ProductResource[]> {
  const { rows } = await db.query<ProductResource>(
    `SELECT ${PRODUCT_COLUMNS} FROM products
     WHERE account_id = $1
       AND ($2::text IS NULL OR ean > $2)
       AND ($3::text IS NULL OR brand = $3)
       AND ($4::text IS NULL OR category = $4)
       AND ($5::timestamptz IS NULL OR updated_at >= $5)
       AND ($6::text IS NULL OR name ILIKE '%' || $6 || '%')
     ORDER BY ean
     LIMIT $7`,
    [
      accountId,
      query.afterEan ?? null,
      query.brand ?? null,
      query.category ?? null,
      query.updatedSince ?? null,
      query.nameContains === undefined ? null : escapeLike(query.nameContains),
      query.limit + 1,
    ],
  );
  return rows;
}
