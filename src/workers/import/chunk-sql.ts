import type { DbClient } from '../../shared/db/pool.js';
import type { EanRange } from './import-chunk.js';
import type { ImportMode } from '../../shared/jobs/import-options.js';
import type { ProductColumn } from './header.js';
import type { SeenEans } from './seen-eans.js';
import { copySeenLines } from './seen-log.js';

/**
 * The SQL of the chunked merge. Everything here runs on the import's one transaction: the chunk
 * and seen-EAN tables are temporary (ON COMMIT DROP), and the products written by earlier chunks
 * stay invisible to readers until the transaction commits.
 *
 * Every statement is shaped so that its cost follows the chunk, never the catalog: lookups into
 * products and the seen EANs are scalar subqueries (one index probe per chunk row) and the one
 * join is bounded by an `= ANY` index condition. The planner has no statistics for rows written
 * earlier in the same transaction; left to choose, it reads an account's whole catalog once per
 * chunk, which makes a large import quadratic.
 */

/** Columns of the chunk table filled by COPY, in COPY order. */
export const CHUNK_COLUMNS = [
  'row', 'ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url', 'attributes',
] as const;

/** Product columns an import writes besides the EAN and attributes, in COPY order. */
export const VALUE_COLUMNS = ['name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url'] as const;

/** Columns of products filled by COPY on a first load (see isFirstLoad), in COPY order. */
export const PRODUCT_COPY_COLUMNS = ['account_id', 'ean', ...VALUE_COLUMNS, 'attributes'] as const;

/** The merge's view of the file: which product columns it has, which attribute names, and whether the `attributes` JSON column. */
export interface MergeShape {
  columns: ReadonlySet<ProductColumn>;
  attributeNames: string[];
  attributesJson: boolean;
}

/** What merging one chunk did (or, for a dry run, would do). */
export interface MergeCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/** What {@link mergeChunk} did, and the rows it neither wrote nor counted: their product was deleted, or their new EAN stored, meanwhile. */
export interface ChunkMergeResult {
  counts: MergeCounts;
  vanished: number[];
}

/** A staged row taken out of the merge by a set-based rule. */
export interface RejectedRow {
  row: number;
  field: 'ean' | 'currency' | 'attributes';
  code: 'DUPLICATE_EAN' | 'NOT_FOUND' | 'REQUIRED' | 'INVALID_ATTRIBUTES';
  message: string;
}

/** Columns of the table of repeats whose first row is looked up at the end, in COPY order. */
export const REPEAT_COLUMNS = ['row', 'ean', 'raw'] as const;

/**
 * Creates the transaction's temporary tables: the current chunk, and the EANs seen so far (used
 * only once a file has more EANs than the worker keeps in memory, see SeenEans). The chunk has no
 * index: its joins with stored products hash the products found through the chunk's EANs (an
 * `= ANY` index scan of products), and an index would only slow down every COPY (by about half:
 * 7.1 ms against 4.6 ms per chunk of 5,000 rows, with its TRUNCATE).
 *
 * A first load (`firstLoad`) needs no seen table: products' own unique index finds its repeats
 * (see FirstLoadRepeats). Its seen log (EAN and row of every row it wrote, see SeenLog) is kept in
 * the worker and written to import_seen_log, without an index, only when it is read (the file
 * repeats an EAN) or grows past its memory budget; it is read once at the end for the first row
 * of each repeat (held in import_repeats until then).
 */
export async function createChunkTables(tx: DbClient, options: { firstLoad: boolean }): Promise<void> {
  await tx.query(`
    CREATE TEMP TABLE import_chunk (
      row bigint NOT NULL, ean text COLLATE "C" NOT NULL, name text, brand text, category text, description text,
      price text, currency text, stock integer, image_url text, attributes jsonb NOT NULL
    ) ON COMMIT DROP;
    ${
      options.firstLoad
        ? `CREATE TEMP TABLE import_seen_log (ean text COLLATE "C" NOT NULL, row bigint NOT NULL) ON COMMIT DROP;
           CREATE TEMP TABLE import_repeats (row bigint NOT NULL, ean text COLLATE "C" NOT NULL, raw text NOT NULL) ON COMMIT DROP;`
        : 'CREATE TEMP TABLE import_seen (ean text COLLATE "C" PRIMARY KEY, row bigint NOT NULL) ON COMMIT DROP;'
    }`);
}

/**
 * Takes later occurrences of an EAN already seen in the file (in this chunk or an earlier one)
 * out of the chunk; the first occurrence stays. For chunks the worker did not check itself. `rows` is the number of rows in the chunk: when
 * every one of them is a first occurrence (the usual case) this is one statement.
 */
export async function rejectRepeatedEans(tx: DbClient, rows: number): Promise<RejectedRow[]> {
  const { rows: inserted } = await tx.query<{ firsts: number }>(
    `WITH firsts AS (
       INSERT INTO import_seen (ean, row) SELECT ean, row FROM import_chunk ORDER BY row
       ON CONFLICT (ean) DO NOTHING RETURNING 1)
     SELECT count(*)::int AS firsts FROM firsts`,
  );
  if (inserted[0]!.firsts === rows) return [];
  const { rows: repeated } = await tx.query<{ row: number; ean: string; first_row: number }>(
    `DELETE FROM import_chunk c WHERE (SELECT s.row FROM import_seen s WHERE s.ean = c.ean) <> c.row
     RETURNING c.row, c.ean, (SELECT s.row FROM import_seen s WHERE s.ean = c.ean) AS first_row`,
  );
  return repeated.map((rejected) => ({
    row: rejected.row,
    field: 'ean',
    code: 'DUPLICATE_EAN',
    message: `The EAN ${rejected.ean} already appears in row ${rejected.first_row} of this file.`,
  }));
}

/** Moves the EANs seen so far into the transaction's seen table and frees the worker's table. */
export async function spillSeenEans(tx: DbClient, seen: SeenEans): Promise<void> {
  await copySeenLines(tx, 'import_seen', seen.entries());
  seen.clear();
}

/**
 * The attributes of stored product `p` merged with those of a row of the file (`attributes`): the
 * names of the file's attribute columns ($2) are taken out, then the row's attributes set.
 */
export const mergedAttributes = (attributes: string) => `((p.attributes - $2::text[]) || ${attributes})`;

/** The new value of a column as products holds it: the chunk keeps price as text (cast here, keeping its scale). */
export const newValue = (column: string) => (column === 'price' ? 'c.price::numeric' : `c.${column}`);

/**
 * The SQL condition "chunk row `c` would change stored product `p`": only columns the file has
 * are compared (absent columns are kept), price by its text so that a new scale counts as a
 * change, attributes after merging the file's attribute columns ($2) over the stored ones.
 */
export function changedCondition(shape: MergeShape, value: (column: string) => string = newValue): string {
  const compared = VALUE_COLUMNS.filter((column) => shape.columns.has(column)).map((column) =>
    column === 'price'
      ? `p.price::text IS DISTINCT FROM (${value(column)})::text`
      : `p.${column} IS DISTINCT FROM ${value(column)}`,
  );
  compared.push(`p.attributes IS DISTINCT FROM ${mergedAttributes(value('attributes'))}`);
  return `(${compared.join(' OR ')})`;
}

/** Stored products with a row in the chunk, found through the chunk's own EANs (an `= ANY` index scan). */
const STORED_PAIRS = `products p JOIN import_chunk c ON c.ean = p.ean
  WHERE p.account_id = $1 AND p.ean = ANY (ARRAY(SELECT ean FROM import_chunk))`;

/**
 * A chunk's stored products are read as one stretch of products' key while that stretch holds at
 * most this many products per chunk row. Reading a stretch costs about a third of looking each EAN
 * up; a stretch with many products the file does not have would cost more.
 */
export const RANGE_DENSITY = 2;

/**
 * How {@link mergeChunk} finds a chunk's stored products: `fits` is a one-row CTE saying whether
 * the way can be used, `pairs` joins the stored products with the chunk's rows. Through the range
 * ($3, $4), `fits` counts its products up to a cap ($5, an index-only scan that stops there); past
 * the cap nothing is read or written, and the merge says so.
 */
function storedProducts(range: EanRange | null): { fits: string; pairs: string } {
  if (!range) return { fits: 'SELECT true AS yes', pairs: STORED_PAIRS };
  return {
    fits: `SELECT count(*) < $5 AS yes FROM (
             SELECT 1 FROM products WHERE account_id = $1 AND ean BETWEEN $3 AND $4 LIMIT $5) stretch`,
    pairs: `products p JOIN import_chunk c ON c.ean = p.ean
      WHERE p.account_id = $1 AND p.ean BETWEEN $3 AND $4 AND (SELECT yes FROM fits)`,
  };
}

/** `INSERT` into products (as `p`) of the chunk rows (as `c`) that `where` keeps, every column set ($1: the account). */
export const insertChunkRows = (where: string) =>
  `INSERT INTO products AS p (account_id, ean, ${VALUE_COLUMNS.join(', ')}, attributes)
   SELECT $1, c.ean, ${VALUE_COLUMNS.map(newValue).join(', ')}, c.attributes FROM import_chunk c ${where}`;

/**
 * The `SET` list of an update of stored product `p` by a row of the file, whose values `value`
 * names: the file's columns, its attribute columns ($2) over the stored attributes, the time.
 */
export function updatedValues(shape: MergeShape, value: (column: string) => string = newValue): string {
  return [
    ...VALUE_COLUMNS.filter((column) => shape.columns.has(column)).map((column) => `${column} = ${value(column)}`),
    `attributes = ${mergedAttributes(value('attributes'))}`,
    'updated_at = now()',
  ].join(', ');
}

/**
 * Merges the chunk into the account's catalog: existing EANs are updated only where something
 * differs, so an identical row is not rewritten; new EANs are inserted. Columns the file does not
 * have keep their stored values; attribute columns replace those attribute names (an empty cell
 * removes one) and keep the others. `staged` is the number of rows in the chunk.
 *
 * `allNew` says that none of the chunk's EANs can be stored: the account's catalog was empty when
 * the import's transaction began (the first load of a catalog) and repeated EANs were taken out,
 * so the only products are those this import inserted, each from a different EAN. The rows are
 * then inserted without looking each one up first, which is most of the cost of a first load. If
 * another import of the account commits one of these EANs meanwhile, the INSERT fails with a
 * unique violation and the attempt is retried, this time against a catalog that is not empty.
 *
 * With `range` (the chunk's lowest and highest EAN) the stored products are read as that stretch
 * of the key, which is cheaper when the file is in EAN order. When the stretch holds more than
 * {@link RANGE_DENSITY} products per row, nothing is written and the result is null: the caller
 * merges the chunk again without a range.
 *
 * A product deleted by another transaction that commits while the statement runs is still paired
 * with its row (the statement's snapshot has it), and the UPDATE then skips the row (READ
 * COMMITTED: the row is gone). A product of a new EAN inserted by another transaction (another
 * import of the account) is not paired, and the INSERT waits for it, then skips the row (ON
 * CONFLICT DO NOTHING) once it commits. Such rows are neither written nor counted: the rows the
 * statement does not account for are returned as `vanished`, for the caller to settle as if the
 * other transaction had come first (see mergeVanishedRows), within the attempt: a unique violation
 * would fail the attempt, and a savepoint per chunk to survive one would overflow PostgreSQL's
 * cache of subtransactions on a large import, slowing every session's snapshots. The counts tell
 * when there are any, so the common path costs a count of the changed and paired rows, where
 * locking every pair up front would write a lock into each stored row (a product the UPDATE
 * reaches is locked by it, and a later delete waits for it). A row found equal is not locked
 * either: if its product is deleted before the import commits, the import, which wrote nothing
 * there, counts as having come before the delete (see UnchangedRows).
 */
export async function mergeChunk(
  tx: DbClient,
  accountId: string,
  mode: ImportMode,
  shape: MergeShape,
  staged: number,
  allNew: boolean,
  range: EanRange | null = null,
): Promise<ChunkMergeResult | null> {
  if (allNew) {
    // Nothing to look up: every row is inserted (mode=update: rejectByMode took every row out).
    if (mode === 'update') return { counts: { created: 0, updated: 0, unchanged: staged }, vanished: [] };
    const result = await tx.query(insertChunkRows(''), [accountId]);
    const created = result.rowCount ?? 0;
    return { counts: { created, updated: 0, unchanged: staged - created }, vanished: [] };
  }
  // One index probe per row (or one stretch of the key): `matched` pairs each chunk row with its
  // stored product and tells whether it would change; rows without a pair are inserted
  // (mode=update has none left), and only changed ones are looked up again, to be updated. With no
  // attribute columns $2 is empty and the chunk's attributes are {}: the stored ones stay.
  const sets = updatedValues(shape);
  const stored = storedProducts(range);
  const inserted =
    mode === 'update'
      ? 'SELECT NULL::text COLLATE "C" AS ean WHERE false'
      : `${insertChunkRows('WHERE (SELECT yes FROM fits) AND c.row NOT IN (SELECT row FROM matched)')}
         ON CONFLICT (account_id, ean) DO NOTHING RETURNING p.ean`;
  const params: unknown[] = range
    ? [accountId, shape.attributeNames, range.low, range.high, RANGE_DENSITY * staged + 1]
    : [accountId, shape.attributeNames];
  // The rows left unaccounted for (listed only when there are some): changed rows the UPDATE did
  // not reach, and rows that found no pair and were not inserted: another transaction stored their
  // EAN meanwhile or, as mode=update inserts nothing, rejectByMode found their product.
  const lost = `SELECT row FROM changed WHERE row NOT IN (SELECT row FROM updated)
    UNION ALL SELECT row FROM import_chunk WHERE row NOT IN (SELECT row FROM matched) AND ean NOT IN (SELECT ean FROM inserted)`;
  const anyLost = `(SELECT count(*) FROM changed) > updated OR (SELECT count(*) FROM matched) + created < $${params.push(staged)}::int`;
  // A bigint[] comes back as text: the int8 parser (see pool.ts) does not reach into arrays.
  const { rows } = await tx.query<{ created: number; updated: number; fits: boolean; vanished: string[] | null }>(
    `WITH fits AS MATERIALIZED (${stored.fits}),
     matched AS MATERIALIZED (
       SELECT c.row, ${changedCondition(shape)} AS changed FROM ${stored.pairs}),
     changed AS MATERIALIZED (
       SELECT c.* FROM import_chunk c JOIN matched m ON m.row = c.row WHERE m.changed),
     inserted AS (${inserted}),
     updated AS (
       UPDATE products p SET ${sets} FROM changed c
       WHERE c.ean = p.ean AND p.account_id = $1 AND p.ean = ANY (ARRAY(SELECT ean FROM changed))
       RETURNING c.row),
     counts AS MATERIALIZED (
       SELECT (SELECT count(*) FROM inserted)::int AS created, (SELECT count(*) FROM updated)::int AS updated,
              (SELECT yes FROM fits) AS fits)
     SELECT *, CASE WHEN fits AND (${anyLost}) THEN ARRAY(${lost}) END AS vanished FROM counts`,
    params,
  );
  const { created, updated, fits } = rows[0]!;
  const vanished = rows[0]!.vanished?.map(Number) ?? [];
  return fits ? { counts: { created, updated, unchanged: staged - created - updated - vanished.length }, vanished } : null;
}

/** What merging the chunk would do, without writing: for `dry_run=true`. */
export async function previewChunk(
  tx: DbClient,
  accountId: string,
  shape: MergeShape,
  staged: number,
): Promise<MergeCounts> {
  const { rows } = await tx.query<{ updated: number; unchanged: number }>(
    `SELECT count(*) FILTER (WHERE ${changedCondition(shape)})::int AS updated,
            count(*) FILTER (WHERE NOT ${changedCondition(shape)})::int AS unchanged
     FROM ${STORED_PAIRS}`,
    [accountId, shape.attributeNames],
  );
  const { updated, unchanged } = rows[0]!;
  return { created: staged - updated - unchanged, updated, unchanged };
}

/** Empties the chunk table for the next chunk. */
export async function clearChunk(tx: DbClient): Promise<void> {
  await tx.query('TRUNCATE import_chunk');
}
