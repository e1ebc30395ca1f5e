import type { DbClient } from '../../shared/db/pool.js';
import type { ImportMode, ProductColumn } from './header.js';

/**
 * The SQL of the chunked merge. Everything here runs on the import's one transaction: the
 * chunk and seen-EAN tables are temporary (ON COMMIT DROP), and the products written by earlier
 * chunks stay invisible to readers until the transaction commits.
 */

/** Columns of the chunk table, in COPY order. */
export const CHUNK_COLUMNS = [
  'row', 'ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url', 'attributes',
] as const;

const VALUE_COLUMNS = ['name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url'] as const;

/** The merge's view of the file: which product columns it has and which attribute names. */
export interface MergeShape {
  columns: ReadonlySet<ProductColumn>;
  attributeNames: string[];
}

/** What merging one chunk did (or, for a dry run, would do). */
export interface MergeCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/** A staged row taken out of the merge by a set-based rule. */
export interface RejectedRow {
  row: number;
  code: 'DUPLICATE_EAN' | 'NOT_FOUND';
  message: string;
}

/** Creates the transaction's temporary tables: the current chunk and every EAN seen so far. */
export async function createChunkTables(tx: DbClient): Promise<void> {
  await tx.query(`
    CREATE TEMP TABLE import_chunk (
      row bigint NOT NULL, ean text NOT NULL, name text, brand text, category text, description text,
      price text, currency text, stock integer, image_url text, attributes jsonb NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE import_seen (ean text PRIMARY KEY, row bigint NOT NULL) ON COMMIT DROP;`);
}

/**
 * Takes later occurrences of an EAN already seen in the file (in this chunk or an earlier one)
 * out of the chunk; the first occurrence stays.
 */
export async function rejectRepeatedEans(tx: DbClient): Promise<RejectedRow[]> {
  // Only this chunk is scanned: the EANs it adds to import_seen are the first occurrences, the
  // rest of the chunk repeats an EAN seen before (an index lookup each, not a join with all of it).
  const { rows: repeated } = await tx.query<{ row: number; ean: string }>(
    `WITH firsts AS (
       INSERT INTO import_seen (ean, row) SELECT ean, row FROM import_chunk ORDER BY row
       ON CONFLICT (ean) DO NOTHING RETURNING row)
     DELETE FROM import_chunk c WHERE NOT EXISTS (SELECT 1 FROM firsts f WHERE f.row = c.row)
     RETURNING c.row, c.ean`,
  );
  if (repeated.length === 0) return [];
  const { rows: firsts } = await tx.query<{ ean: string; row: number }>(
    'SELECT ean, row FROM import_seen WHERE ean = ANY($1::text[])',
    [repeated.map((rejected) => rejected.ean)],
  );
  const firstRow = new Map(firsts.map((first) => [first.ean, first.row]));
  return repeated.map((rejected) => ({
    row: rejected.row,
    code: 'DUPLICATE_EAN',
    message: `The EAN ${rejected.ean} already appears in row ${firstRow.get(rejected.ean)} of this file.`,
  }));
}

/**
 * Applies the rule of `mode` against the stored catalog: `create` rejects EANs that exist
 * (`DUPLICATE_EAN`), `update` rejects EANs that do not (`NOT_FOUND`); `upsert` takes both.
 */
export async function rejectByMode(tx: DbClient, accountId: string, mode: ImportMode): Promise<RejectedRow[]> {
  if (mode === 'upsert') return [];
  const exists = `EXISTS (SELECT 1 FROM products p WHERE p.account_id = $1 AND p.ean = c.ean)`;
  const { rows } = await tx.query<{ row: number }>(
    `DELETE FROM import_chunk c WHERE ${mode === 'create' ? exists : `NOT ${exists}`} RETURNING c.row`,
    [accountId],
  );
  return rows.map(({ row }) =>
    mode === 'create'
      ? { row, code: 'DUPLICATE_EAN', message: 'A product with this EAN already exists.' }
      : { row, code: 'NOT_FOUND', message: 'No product with this EAN exists (mode=update only changes existing products).' },
  );
}

/**
 * The new value of a column as the products table holds it: the chunk keeps price as text
 * (cast here, keeping its scale); in an ON CONFLICT clause `EXCLUDED` already holds the cast value.
 */
const newValue = (column: string, alias: 'c' | 'EXCLUDED') =>
  column === 'price' && alias === 'c' ? 'c.price::numeric' : `${alias}.${column}`;

/**
 * The SQL condition "the new row would change stored product `p`": only columns the file has are
 * compared (absent columns are kept), price by its text so that a new scale counts as a change,
 * attributes after merging the file's attribute columns over the stored ones.
 */
function changedCondition(shape: MergeShape, alias: 'c' | 'EXCLUDED'): string {
  const compared = VALUE_COLUMNS.filter((column) => shape.columns.has(column)).map((column) =>
    column === 'price'
      ? `p.price::text IS DISTINCT FROM (${newValue(column, alias)})::text`
      : `p.${column} IS DISTINCT FROM ${newValue(column, alias)}`,
  );
  if (shape.attributeNames.length > 0) {
    compared.push(`p.attributes IS DISTINCT FROM ((p.attributes - $2::text[]) || ${alias}.attributes)`);
  }
  return compared.length > 0 ? `(${compared.join(' OR ')})` : 'false';
}

/**
 * Merges the chunk into the account's catalog in one statement: new EANs are inserted, existing
 * ones updated only where something differs (an identical row is not rewritten). Columns the file
 * does not have keep their stored values; attribute columns replace those attribute names (an
 * empty cell removes one) and keep the others. `staged` is the number of rows in the chunk.
 */
export async function mergeChunk(
  tx: DbClient,
  accountId: string,
  mode: ImportMode,
  shape: MergeShape,
  staged: number,
): Promise<MergeCounts> {
  const present = VALUE_COLUMNS.filter((column) => shape.columns.has(column));
  // With no attribute columns $2 is empty and the new attributes are {}: the stored ones stay.
  const attributes = (alias: 'c' | 'EXCLUDED') => `attributes = (p.attributes - $2::text[]) || ${alias}.attributes`;
  const sql =
    mode === 'update'
      ? // Every row left exists (rejectByMode removed the rest): a plain UPDATE, which unlike
        // INSERT … ON CONFLICT does not need the columns the file leaves out.
        `UPDATE products p
         SET ${[...present.map((column) => `${column} = ${newValue(column, 'c')}`), attributes('c'), 'updated_at = now()'].join(', ')}
         FROM import_chunk c
         WHERE p.account_id = $1 AND p.ean = c.ean AND ${changedCondition(shape, 'c')}
         RETURNING false AS inserted`
      : `INSERT INTO products AS p (account_id, ean, ${VALUE_COLUMNS.join(', ')}, attributes)
         SELECT $1, c.ean, ${VALUE_COLUMNS.map((column) => newValue(column, 'c')).join(', ')}, c.attributes
         FROM import_chunk c
         ON CONFLICT (account_id, ean) DO UPDATE
           SET ${[...present.map((column) => `${column} = EXCLUDED.${column}`), attributes('EXCLUDED'), 'updated_at = now()'].join(', ')}
           WHERE ${changedCondition(shape, 'EXCLUDED')}
         RETURNING (xmax = 0) AS inserted`;
  const { rows } = await tx.query<{ created: number; updated: number }>(
    `WITH changed AS (${sql})
     SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated
     FROM changed`,
    [accountId, shape.attributeNames],
  );
  const { created, updated } = rows[0]!;
  return { created, updated, unchanged: staged - created - updated };
}

/** What merging the chunk would do, without writing: for `dry_run=true`. */
export async function previewChunk(tx: DbClient, accountId: string, shape: MergeShape): Promise<MergeCounts> {
  const { rows } = await tx.query<MergeCounts>(
    `SELECT count(*) FILTER (WHERE p.ean IS NULL)::int AS created,
            count(*) FILTER (WHERE p.ean IS NOT NULL AND ${changedCondition(shape, 'c')})::int AS updated,
            count(*) FILTER (WHERE p.ean IS NOT NULL AND NOT ${changedCondition(shape, 'c')})::int AS unchanged
     FROM import_chunk c LEFT JOIN products p ON p.account_id = $1 AND p.ean = c.ean`,
    shape.attributeNames.length > 0 ? [accountId, shape.attributeNames] : [accountId],
  );
  return rows[0]!;
}

/** Empties the chunk table for the next chunk. */
export async function clearChunk(tx: DbClient): Promise<void> {
  await tx.query('TRUNCATE import_chunk');
}
