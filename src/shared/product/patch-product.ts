import { withTransaction, type Db, type DbClient } from '../db/pool.js';
import { PRODUCT_COLUMNS, type ProductResource } from './product-queries.js';
import { lockSearchShared, putSearchRows } from './product-search.js';
import type { ProductPatch } from './schema.js';

/** Plain columns a PATCH may set, with the SQL type of their parameter. */
const PATCHABLE: ReadonlyArray<readonly [keyof ProductPatch & string, string]> = [
  ['name', 'text'],
  ['brand', 'text'],
  ['category', 'text'],
  ['description', 'text'],
  ['price', 'numeric'],
  ['currency', 'text'],
  ['stock', 'integer'],
  ['image_url', 'text'],
];

/** What a PATCH did: the product after it, or why nothing changed. */
export type PatchOutcome =
  | { kind: 'patched'; product: ProductResource }
  | { kind: 'not_found' }
  | { kind: 'price_without_currency' };

/**
 * Applies a partial update. A new name, brand or category is written to the product's search row
 * in the same transaction (see product-search.ts); other fields leave the search row as it is.
 */
export async function patchProduct(db: Db, accountId: string, ean: string, patch: ProductPatch): Promise<PatchOutcome> {
  if (patch.name === undefined && patch.brand === undefined && patch.category === undefined) return applyPatch(db, accountId, ean, patch);
  return withTransaction(db, async (client) => {
    await lockSearchShared(client, accountId);
    const outcome = await applyPatch(client, accountId, ean, patch);
    if (outcome.kind === 'patched') await putSearchRows(client, accountId, [outcome.product]);
    return outcome;
  });
}

/**
 * Applies a partial update in ONE statement, so concurrent PATCHes of different fields (or of
 * different attribute keys) never lose each other's change: each sets only its own columns on the
 * latest row version, and attributes are merged in SQL (`||`, a null value removes its key).
 * The rule "currency is required with price" is checked in the same statement against the
 * resulting row, since it may depend on the stored values.
 */
async function applyPatch(db: Db | DbClient, accountId: string, ean: string, patch: ProductPatch): Promise<PatchOutcome> {
  const values: unknown[] = [accountId, ean];
  const param = (value: unknown, type: string) => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const sets = ['updated_at = now()'];
  const after: Record<string, string> = { price: 'price', currency: 'currency' };
  for (const [column, type] of PATCHABLE) {
    if (patch[column] === undefined) continue;
    const expression = param(patch[column], type);
    sets.push(`${column} = ${expression}`);
    after[column] = expression;
  }
  if (patch.attributes) {
    const entries = Object.entries(patch.attributes);
    const kept = Object.fromEntries(entries.filter(([, value]) => value !== null));
    const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
    sets.push(`attributes = (attributes || ${param(JSON.stringify(kept), 'jsonb')}) - ${param(removed, 'text[]')}`);
  }
  const { rows } = await db.query<ProductResource>(
    `UPDATE products SET ${sets.join(', ')}
     WHERE account_id = $1 AND ean = $2 AND (${after.price} IS NULL OR ${after.currency} IS NOT NULL)
     RETURNING ${PRODUCT_COLUMNS}`,
    values,
  );
  if (rows[0]) return { kind: 'patched', product: rows[0] };
  const exists = await db.query('SELECT 1 FROM products WHERE account_id = $1 AND ean = $2', [accountId, ean]);
  return exists.rowCount === 0 ? { kind: 'not_found' } : { kind: 'price_without_currency' };
}
