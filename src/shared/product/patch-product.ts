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
  const statement = patchStatement(accountId, ean, patch);
  if (patch.name === undefined && patch.brand === undefined && patch.category === undefined) {
    const outcome = await applyPatch(db, statement);
    if (outcome.kind !== 'raced') return outcome;
    return withTransaction(db, (client) => applyPatchLocked(client, accountId, ean, statement));
  }
  return withTransaction(db, async (client) => {
    await lockSearchShared(client, accountId);
    const first = await applyPatch(client, statement);
    const outcome = first.kind === 'raced' ? await applyPatchLocked(client, accountId, ean, statement) : first;
    if (outcome.kind === 'patched') await putSearchRows(client, accountId, [outcome.product]);
    return outcome;
  });
}

/** A PATCH as one statement ({@link patchStatement}) and its parameters. */
interface PatchStatement {
  text: string;
  values: unknown[];
}

/** What the statement found: the product as patched, or the conditions on the row it read. */
type PatchResultRow = ProductResource & { patched: boolean | null; price_ok: boolean; names_fit: boolean };

/**
 * Builds the partial update as ONE statement, so concurrent PATCHes of different fields (or of
 * different attribute keys) never lose each other's change: each sets only its own columns on the
 * latest row version, and attributes are merged in SQL (`||`, a null value removes its key).
 * The rule "currency is required with price" is checked against the resulting row, since it may
 * depend on the stored values. The same statement reads which condition the row fails: a second
 * read after the UPDATE could see another product under the EAN (deleted and created again in
 * between) and blame this patch for a rule the row it missed never broke.
 */
function patchStatement(accountId: string, ean: string, patch: ProductPatch): PatchStatement {
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
  let namesFit = 'true';
  if (patch.attributes === null) sets.push(`attributes = '{}'::jsonb`);
  else if (patch.attributes) {
    const entries = Object.entries(patch.attributes);
    const kept = JSON.stringify(Object.fromEntries(entries.filter(([, value]) => value !== null)));
    const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
    const [keptParam, removedParam] = [param(kept, 'jsonb'), param(removed, 'text[]')];
    sets.push(`attributes = ${mergedAttributes(keptParam, removedParam)}`);
    if (kept !== '{}') namesFit = namesFitSql(keptParam, removedParam);
  }
  const priceOk = `(${after.price} IS NULL OR ${after.currency} IS NOT NULL)`;
  // Every part of the statement reads the same snapshot: `stored` shows the row as the UPDATE first
  // found it, not the UPDATE's own change.
  const text = `WITH stored AS (
      SELECT ${priceOk} AS price_ok, ${namesFit} AS names_fit FROM products WHERE account_id = $1 AND ean = $2
    ), updated AS (
      UPDATE products SET ${sets.join(', ')}
      WHERE account_id = $1 AND ean = $2 AND ${priceOk} AND ${namesFit}
      RETURNING ${PRODUCT_COLUMNS}, true AS patched
    )
    SELECT updated.*, stored.price_ok, stored.names_fit FROM stored LEFT JOIN updated ON true`;
  return { text, values };
}

/**
 * Runs the statement. `raced` when the row it read met every condition and the UPDATE still
 * matched nothing: a concurrent DELETE (perhaps followed by a PUT) or a change of the row committed
 * while the UPDATE waited for it, and which of the two this snapshot cannot tell.
 */
async function applyPatch(db: Db | DbClient, statement: PatchStatement): Promise<PatchOutcome | { kind: 'raced' }> {
  const { rows } = await db.query<PatchResultRow>(statement.text, statement.values);
  const row = rows[0];
  if (!row) return { kind: 'not_found' };
  const { patched, price_ok: priceOk, names_fit: namesFit, ...product } = row;
  if (patched) return { kind: 'patched', product };
  if (!namesFit) return { kind: 'too_many_attributes' };
  if (!priceOk) return { kind: 'price_without_currency' };
  return { kind: 'raced' };
}

/**
 * Applies a patch that raced ({@link applyPatch}) again with the product's row locked, so nothing
 * can change it between what the statement reads and what it updates: the PATCH then takes its
 * place after the writes it raced, as if it had come after them (a product deleted by then is 404,
 * one created again is patched). Runs inside the caller's transaction, which holds the lock.
 */
async function applyPatchLocked(client: DbClient, accountId: string, ean: string, statement: PatchStatement): Promise<PatchOutcome> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM products WHERE account_id = $1 AND ean = $2 FOR NO KEY UPDATE',
    [accountId, ean],
  );
  if (!rowCount) return { kind: 'not_found' };
  const outcome = await applyPatch(client, statement);
  if (outcome.kind === 'raced') throw new Error('A locked product changed during its PATCH.');
  return outcome;
}

const mergedAttributes = (kept: string, removed: string) => `(attributes || ${kept}) - ${removed}`;
const namesFitSql = (kept: string, removed: string) =>
  `${attributeNameCountSql(mergedAttributes(kept, removed))} <= ${MAX_ATTRIBUTES}`;
