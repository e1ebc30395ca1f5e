import type { DbClient } from '../../shared/db/pool.js';
import type { ImportMode } from '../../shared/jobs/import-options.js';
import {
  changedCondition,
  insertChunkRows,
  updatedValues,
  type MergeCounts,
  type MergeShape,
  type RejectedRow,
} from './chunk-sql.js';
import { upsertChunk } from './chunk-upsert.js';
import { existingEanRow, notFoundRow } from './mode-rule.js';

/** What settling a merge's vanished rows did, and the rows the mode's rule rejects against the catalog as it is now. */
export interface SettledRows {
  counts: MergeCounts;
  rejected: RejectedRow[];
}

/** "Stored product `p` is that of chunk row `c`, one of the rows numbered in `rows`", bounded by an `= ANY` index condition. */
const storedOfRows = (rows: string) =>
  `c.ean = p.ean AND p.account_id = $1 AND p.ean = ANY (ARRAY(SELECT ean FROM import_chunk WHERE row = ANY (${rows}::bigint[])))`;

/**
 * Settles the chunk rows `rows` that mergeChunk neither wrote nor counted: another transaction
 * committed while the merge ran, deleting their stored product (which may have been stored again
 * since) or storing a product of their new EAN (another import of the account). They end as if
 * that transaction had committed before the merge. mode=upsert inserts them, or updates the product
 * stored meanwhile where it differs, through upsertChunk, whose INSERT … ON CONFLICT gets past
 * another such delete or insert by itself. mode=create inserts them where their EAN is still free
 * and reports the others DUPLICATE_EAN, as its rule before the merge would have. mode=update only
 * changes stored products: it locks those that are still there (so they cannot vanish again before
 * the UPDATE reaches them), updates the ones that differ and reports the others NOT_FOUND.
 */
export async function mergeVanishedRows(
  tx: DbClient,
  accountId: string,
  mode: ImportMode,
  shape: MergeShape,
  rows: number[],
): Promise<SettledRows> {
  if (mode === 'upsert') return { counts: await upsertChunk(tx, accountId, shape, rows.length, rows), rejected: [] };
  if (mode === 'create') return createOrReject(tx, accountId, rows);
  const { rows: locked } = await tx.query<{ row: number }>(
    `SELECT c.row FROM products p JOIN import_chunk c ON ${storedOfRows('$2')} FOR NO KEY UPDATE OF p`,
    [accountId, rows],
  );
  const stored = locked.map(({ row }) => row);
  const { rowCount } = await tx.query(
    `UPDATE products p SET ${updatedValues(shape)} FROM import_chunk c WHERE ${storedOfRows('$3')} AND ${changedCondition(shape)}`,
    [accountId, shape.attributeNames, stored],
  );
  const updated = rowCount ?? 0;
  const kept = new Set(stored);
  return {
    counts: { created: 0, updated, unchanged: stored.length - updated },
    rejected: rows.filter((row) => !kept.has(row)).map(notFoundRow),
  };
}

/**
 * mode=create's settling of `rows`: each is inserted unless its EAN is stored (once the transaction
 * that stores it has committed: ON CONFLICT waits for it), and then reported DUPLICATE_EAN.
 */
async function createOrReject(tx: DbClient, accountId: string, rows: number[]): Promise<SettledRows> {
  const { rows: inserted } = await tx.query<{ row: number }>(
    `WITH inserted AS (
       ${insertChunkRows('WHERE c.row = ANY ($2::bigint[])')} ON CONFLICT (account_id, ean) DO NOTHING RETURNING p.ean)
     SELECT row FROM import_chunk WHERE ean IN (SELECT ean FROM inserted)`,
    [accountId, rows],
  );
  const created = new Set(inserted.map(({ row }) => row));
  return {
    counts: { created: created.size, updated: 0, unchanged: 0 },
    rejected: rows.filter((row) => !created.has(row)).map(existingEanRow),
  };
}
