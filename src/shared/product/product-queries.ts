import { batchedLookup } from '../db/batched-lookup.js';
import { jsonRow } from '../db/json-row.js';
import { withTransaction, type Db } from '../db/pool.js';
import { lockSearchShared, putSearchRows, removeSearchRow } from './product-search.js';
import type { ProductResource } from './resource-schema.js';
import type { ProductInput } from './schema.js';

export type { ProductResource } from './resource-schema.js';

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The product resource as PostgreSQL gives it: price as text with its stored scale, times in ISO 8601. */
const PRODUCT_RESOURCE = jsonRow<ProductResource>([
  'ean', 'name', 'brand', 'category', 'description', ['price', 'price::text'], 'currency', 'stock', 'image_url', 'attributes',
  ['created_at', iso('created_at')],
  ['updated_at', iso('updated_at')],
  [
    'derived',
    `CASE WHEN derived_at IS NULL THEN NULL ELSE json_build_object('gtin14', gtin14, 'check_digit_valid', ean_check_digit_valid,
      'gs1_prefix', gs1_prefix, 'gs1_prefix_country', gs1_prefix_country, 'derived_at', ${iso('derived_at')}) END`,
  ],
]);

/** The product columns as the API returns them ({@link PRODUCT_RESOURCE}). */
export const PRODUCT_COLUMNS = PRODUCT_RESOURCE.columns;

/** The names of {@link PRODUCT_COLUMNS}, in order. */
export const PRODUCT_COLUMN_NAMES = PRODUCT_RESOURCE.names;

/** The columns a client writes, in the order of the insert statements below. */
const WRITTEN_COLUMNS = `ean, name, brand, category, description, price, currency, stock, image_url, attributes`;

function writtenValues(accountId: string, product: ProductInput): unknown[] {
  return [
    accountId,
    product.ean,
    product.name,
    // An empty text is no value, as an empty cell of an import is: stored as null, so the two agree.
    product.brand || null,
    product.category || null,
    product.description || null,
    product.price ?? null,
    product.currency ?? null,
    product.stock ?? null,
    product.image_url ?? null,
    JSON.stringify(product.attributes ?? {}),
  ];
}

/**
 * Finds a product of the account's catalog by exact EAN (null when there is none). The lookups of
 * one turn of the event loop share one named statement (see {@link batchedLookup}).
 */
export function productFinder(db: Db): (accountId: string, ean: string) => Promise<ProductResource | null> {
  const find = batchedLookup<{ product: string }>(
    db,
    'find-products',
    `SELECT k.n, ${PRODUCT_RESOURCE.array} AS product
     FROM (SELECT a AS account_id, e COLLATE "C" AS ean, n FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(a, e, n)) k
     JOIN products USING (account_id, ean)`,
  );
  return async (accountId, ean) => {
    const found = await find(accountId, ean);
    return found && PRODUCT_RESOURCE.read(found.product);
  };
}

/**
 * Inserts a new product and its search row in one transaction; null when the account already has
 * one with this EAN.
 */
export async function insertProduct(db: Db, accountId: string, product: ProductInput): Promise<ProductResource | null> {
  return withTransaction(db, async (client) => {
    await lockSearchShared(client, accountId);
    const { rows } = await client.query<ProductResource>(
      `INSERT INTO products (account_id, ${WRITTEN_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11::jsonb)
       ON CONFLICT (account_id, ean) DO NOTHING
       RETURNING ${PRODUCT_COLUMNS}`,
      writtenValues(accountId, product),
    );
    if (rows[0]) await putSearchRows(client, accountId, [rows[0]]);
    return rows[0] ?? null;
  });
}

/**
 * Creates the product or replaces every written field of the stored one (created_at stays), with
 * its search row, in one transaction; `created` tells which happened.
 */
export async function replaceProduct(
  db: Db,
  accountId: string,
  product: ProductInput,
): Promise<{ product: ProductResource; created: boolean }> {
  return withTransaction(db, async (client) => {
    await lockSearchShared(client, accountId);
    const { rows } = await client.query<ProductResource & { created: boolean }>(
      `INSERT INTO products (account_id, ${WRITTEN_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11::jsonb)
       ON CONFLICT (account_id, ean) DO UPDATE SET
         name = EXCLUDED.name, brand = EXCLUDED.brand, category = EXCLUDED.category,
         description = EXCLUDED.description, price = EXCLUDED.price, currency = EXCLUDED.currency,
         stock = EXCLUDED.stock, image_url = EXCLUDED.image_url, attributes = EXCLUDED.attributes,
         updated_at = now()
       RETURNING ${PRODUCT_COLUMNS}, (xmax = 0) AS created`,
      writtenValues(accountId, product),
    );
    const { created, ...stored } = rows[0]!;
    await putSearchRows(client, accountId, [stored]);
    return { product: stored, created };
  });
}

/** Deletes one product and its search row; false when the account has none with this EAN. */
export async function deleteProduct(db: Db, accountId: string, ean: string): Promise<boolean> {
  return withTransaction(db, async (client) => {
    await lockSearchShared(client, accountId);
    const { rowCount } = await client.query('DELETE FROM products WHERE account_id = $1 AND ean = $2', [accountId, ean]);
    await removeSearchRow(client, accountId, ean);
    return rowCount === 1;
  });
}
