import { withTransaction, type Db, type DbClient } from '../db/pool.js';
import { PRODUCT_COLUMNS, type ProductResource } from './product-queries.js';
import { lockSearchShared, putSearchRows } from './product-search.js';
import { attributeNameCountSql, MAX_ATTRIBUTES } from './attribute-rules.js';
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

/** Free-text fields whose empty text is stored as null. */
const EMPTY_IS_NULL: ReadonlySet<string> = new Set(['brand', 'category', 'description']);

/** What a PATCH did: the product after it, or why nothing changed. */
export type PatchOutcome =
  | { kind: 'patched'; product: ProductResource }
  | { kind: 'not_found' }
  | { kind: 'price_without_currency' }
  | { kind: 'too_many_attributes' };

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
    // An empty brand, category or description is stored as null, as on POST and PUT (writtenValues).
    const expression = param(EMPTY_IS_NULL.has(column) && patch[column] === '' ? null : patch[column], type);
    sets.push(`${column} = ${expression}`);
    after[column] = expression;
  }
  // The patch alone was checked; what it merges into may hold no more attribute names than a product may have.
  let added: { kept: string; removed: string[] } | null = null;
  let namesFit = 'true';
  if (patch.attributes === null) sets.push(`attributes = '{}'::jsonb`);
  else if (patch.attributes) {
    const entries = Object.entries(patch.attributes);
    const kept = JSON.stringify(Object.fromEntries(entries.filter(([, value]) => value !== null)));
    const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
    const [keptParam, removedParam] = [param(kept, 'jsonb'), param(removed, 'text[]')];
    sets.push(`attributes = ${mergedAttributes(keptParam, removedParam)}`);
    if (kept !== '{}') {
      added = { kept, removed };
      namesFit = namesFitSql(keptParam, removedParam);
    }
  }
  const { rows } = await db.query<ProductResource>(
    `UPDATE products SET ${sets.join(', ')}
     WHERE account_id = $1 AND ean = $2 AND (${after.price} IS NULL OR ${after.currency} IS NOT NULL) AND ${namesFit}
     RETURNING ${PRODUCT_COLUMNS}`,
    values,
  );
  if (rows[0]) return { kind: 'patched', product: rows[0] };
  const { rows: found } = await db.query<{ names_fit: boolean }>(
    `SELECT ${added ? namesFitSql('$3::jsonb', '$4::text[]') : 'true'} AS names_fit FROM products WHERE account_id = $1 AND ean = $2`,
    added ? [accountId, ean, added.kept, added.removed] : [accountId, ean],
  );
  if (!found[0]) return { kind: 'not_found' };
  return found[0].names_fit ? { kind: 'price_without_currency' } : { kind: 'too_many_attributes' };
}

const mergedAttributes = (kept: string, removed: string) => `(attributes || ${kept}) - ${removed}`;
const namesFitSql = (kept: string, removed: string) =>
  `${attributeNameCountSql(mergedAttributes(kept, removed))} <= ${MAX_ATTRIBUTES}`;
