import { randomBytes } from 'node:crypto';
import type { Db, DbClient } from '../../shared/db/pool.js';
import type { ImportMode, ProductColumn } from './header.js';

/** Columns of the staging table of valid rows, in COPY order. */
export const STAGED_ROW_COLUMNS = [
  'row', 'ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url',
  'attributes', 'raw',
] as const;

/** Columns of the staging table of row problems, in COPY order. */
export const STAGED_ERROR_COLUMNS = ['row', 'ordinal', 'ean', 'field', 'code', 'message', 'raw'] as const;

/** The two per-attempt tables of one import attempt. */
export interface StagingTables {
  rows: string;
  errors: string;
}

/**
 * Names the staging tables of one attempt. A fresh token per attempt means that a second run of
 * the same job (after a stall) never shares tables with a first run that is still going.
 */
export function stagingTablesFor(jobId: string): StagingTables {
  const base = `import_staging.j${jobId.replaceAll('-', '')}_${randomBytes(4).toString('hex')}`;
  return { rows: `${base}_rows`, errors: `${base}_errors` };
}

/** Creates the attempt's UNLOGGED staging tables (no WAL: they are rebuilt from the upload on retry). */
export async function createStaging(db: Db, tables: StagingTables): Promise<void> {
  await db.query(`
    CREATE UNLOGGED TABLE ${tables.rows} (
      row bigint NOT NULL, ean text NOT NULL, name text, brand text, category text, description text,
      price text, currency text, stock integer, image_url text, attributes jsonb NOT NULL, raw text NOT NULL
    );
    CREATE UNLOGGED TABLE ${tables.errors} (
      row bigint NOT NULL, ordinal integer NOT NULL, ean text, field text, code text NOT NULL,
      message text NOT NULL, raw text
    );`);
}

/** Drops the attempt's staging tables; failures are ignored (the periodic cleanup retries). */
export async function dropStaging(db: Db, tables: StagingTables): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${tables.rows}, ${tables.errors}`).catch(() => {});
}

/**
 * Moves every later occurrence of an EAN already seen in the file from the rows table to the
 * errors table as `DUPLICATE_EAN`; the first occurrence stays. A hash aggregate finds them, so a
 * file without duplicates costs one scan.
 */
export async function rejectRepeatedEans(client: DbClient, tables: StagingTables): Promise<number> {
  const { rowCount } = await client.query(`
    WITH firsts AS (
      SELECT ean, min(row) AS first_row FROM ${tables.rows} GROUP BY ean HAVING count(*) > 1
    ), repeated AS (
      DELETE FROM ${tables.rows} s USING firsts f
      WHERE s.ean = f.ean AND s.row > f.first_row
      RETURNING s.row, s.ean, s.raw, f.first_row
    )
    INSERT INTO ${tables.errors} (row, ordinal, ean, field, code, message, raw)
    SELECT row, 0, ean, 'ean', 'DUPLICATE_EAN',
           'The EAN ' || ean || ' already appears in row ' || first_row || ' of this file.', raw
    FROM repeated`);
  return rowCount ?? 0;
}

/**
 * Applies the rule of `mode` against the stored catalog in one join: `create` rejects EANs that
 * exist (`DUPLICATE_EAN`), `update` rejects EANs that do not (`NOT_FOUND`); `upsert` takes both.
 */
export async function rejectByMode(
  client: DbClient,
  tables: StagingTables,
  accountId: string,
  mode: ImportMode,
): Promise<number> {
  if (mode === 'upsert') return 0;
  const exists = `EXISTS (SELECT 1 FROM products p WHERE p.account_id = $1 AND p.ean = s.ean)`;
  const [condition, code, message] =
    mode === 'create'
      ? [exists, 'DUPLICATE_EAN', 'A product with this EAN already exists.']
      : [`NOT ${exists}`, 'NOT_FOUND', 'No product with this EAN exists (mode=update only changes existing products).'];
  const { rowCount } = await client.query(
    `WITH rejected AS (DELETE FROM ${tables.rows} s WHERE ${condition} RETURNING s.row, s.ean, s.raw)
     INSERT INTO ${tables.errors} (row, ordinal, ean, field, code, message, raw)
     SELECT row, 0, ean, 'ean', $2, $3, raw FROM rejected`,
    [accountId, code, message],
  );
  return rowCount ?? 0;
}

/** Counts rows with at least one problem. */
export async function countFailedRows(client: DbClient, tables: StagingTables): Promise<number> {
  const { rows } = await client.query<{ failed: number }>(
    `SELECT count(DISTINCT row)::int AS failed FROM ${tables.errors}`,
  );
  return rows[0]!.failed;
}

/** Replaces the job's published report with the attempt's problems, in one statement. */
export async function publishReport(client: DbClient, tables: StagingTables, jobId: string): Promise<void> {
  await client.query('DELETE FROM job_row_errors WHERE job_id = $1', [jobId]);
  await client.query(
    `INSERT INTO job_row_errors (job_id, row, ordinal, ean, field, code, message, raw)
     SELECT $1, row, ordinal, ean, field, code, message, raw FROM ${tables.errors}`,
    [jobId],
  );
}

/** What a merge did (or, for a dry run, would do). */
export interface MergeCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/** The merge's view of the file: which product columns it has and which attribute names. */
export interface MergeShape {
  columns: ReadonlySet<ProductColumn>;
  attributeNames: string[];
}

const VALUE_COLUMNS = ['name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url'] as const;

/**
 * The new value of a column as the products table holds it: the staging table keeps price as text
 * (cast here, keeping its scale); in an ON CONFLICT clause `EXCLUDED` already holds the cast value.
 */
const newValue = (column: string, alias: 's' | 'EXCLUDED') =>
  column === 'price' && alias === 's' ? 's.price::numeric' : `${alias}.${column}`;

/**
 * The SQL condition "the new row would change stored product `p`": only columns the file has are
 * compared (absent columns are kept), price by its text so that a new scale counts as a change,
 * attributes after merging the file's attribute columns over the stored ones.
 */
function changedCondition(shape: MergeShape, alias: 's' | 'EXCLUDED'): string {
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
 * Merges the staged rows into the account's catalog in one statement: new EANs are inserted,
 * existing ones updated only where something differs (so an identical row is not rewritten).
 * Columns the file does not have keep their stored values; attribute columns the file has
 * replace those attribute names (an empty cell removes one) and keep the others.
 */
export async function mergeIntoProducts(
  client: DbClient,
  tables: StagingTables,
  accountId: string,
  mode: ImportMode,
  shape: MergeShape,
): Promise<MergeCounts> {
  const present = VALUE_COLUMNS.filter((column) => shape.columns.has(column));
  // With no attribute columns $2 is empty and the new attributes are {}: the stored ones stay.
  const attributesUpdate = (alias: 's' | 'EXCLUDED') => `(p.attributes - $2::text[]) || ${alias}.attributes`;
  const params = [accountId, shape.attributeNames];
  let sql: string;
  if (mode === 'update') {
    // Every staged row exists (rejectByMode removed the rest): a plain UPDATE, which unlike an
    // INSERT … ON CONFLICT does not need the columns the file leaves out.
    const sets = present.map((column) => `${column} = ${newValue(column, 's')}`);
    sql = `WITH changed AS (
             UPDATE products p SET ${[...sets, `attributes = ${attributesUpdate('s')}`, 'updated_at = now()'].join(', ')}
             FROM ${tables.rows} s
             WHERE p.account_id = $1 AND p.ean = s.ean AND ${changedCondition(shape, 's')}
             RETURNING false AS inserted)
           SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated,
                  (SELECT count(*)::int FROM ${tables.rows}) AS total
           FROM changed`;
  } else {
    const sets = present.map((column) => `${column} = EXCLUDED.${column}`);
    sql = `WITH changed AS (
             INSERT INTO products AS p (account_id, ean, ${VALUE_COLUMNS.join(', ')}, attributes)
             SELECT $1, s.ean, ${VALUE_COLUMNS.map((column) => newValue(column, 's')).join(', ')}, s.attributes
             FROM ${tables.rows} s
             ON CONFLICT (account_id, ean) DO UPDATE
               SET ${[...sets, `attributes = ${attributesUpdate('EXCLUDED')}`, 'updated_at = now()'].join(', ')}
               WHERE ${changedCondition(shape, 'EXCLUDED')}
             RETURNING (xmax = 0) AS inserted)
           SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated,
                  (SELECT count(*)::int FROM ${tables.rows}) AS total
           FROM changed`;
  }
  const { rows } = await client.query<{ created: number; updated: number; total: number }>(sql, params);
  const { created, updated, total } = rows[0]!;
  return { created, updated, unchanged: total - created - updated };
}

/** What a merge would do, without writing: for `dry_run=true`. */
export async function previewMerge(
  client: DbClient,
  tables: StagingTables,
  accountId: string,
  shape: MergeShape,
): Promise<MergeCounts> {
  const { rows } = await client.query<MergeCounts>(
    `SELECT count(*) FILTER (WHERE p.ean IS NULL)::int AS created,
            count(*) FILTER (WHERE p.ean IS NOT NULL AND ${changedCondition(shape, 's')})::int AS updated,
            count(*) FILTER (WHERE p.ean IS NOT NULL AND NOT ${changedCondition(shape, 's')})::int AS unchanged
     FROM ${tables.rows} s LEFT JOIN products p ON p.account_id = $1 AND p.ean = s.ean`,
    shape.attributeNames.length > 0 ? [accountId, shape.attributeNames] : [accountId],
  );
  return rows[0]!;
}
