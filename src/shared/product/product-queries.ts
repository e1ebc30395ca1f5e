import type { Db } from '../db/pool.js';

/** A product as the API returns it: price as text with its stored scale, times in ISO 8601. */
export interface ProductResource {
  ean: string;
  name: string;
  brand: string | null;
  category: string | null;
  description: string | null;
  price: string | null;
  currency: string | null;
  stock: number | null;
  image_url: string | null;
  attributes: Record<string, string | number | boolean>;
  created_at: string;
  updated_at: string;
}

const PRODUCT_COLUMNS = `ean, name, brand, category, description, price::text AS price, currency, stock, image_url,
  attributes, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at`;

/** One product of the account's catalog by exact EAN, or null. */
export async function findProduct(db: Db, accountId: string, ean: string): Promise<ProductResource | null> {
  const { rows } = await db.query<ProductResource>(
    `SELECT ${PRODUCT_COLUMNS} FROM products WHERE account_id = $1 AND ean = $2`,
    [accountId, ean],
  );
  return rows[0] ?? null;
}
