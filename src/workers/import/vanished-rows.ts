import type { DbClient } from '../../shared/db/pool.js';
import type { ImportMode } from '../../shared/jobs/import-options.js';
import { changedCondition, updatedValues, type MergeCounts, type MergeShape, type RejectedRow } from './chunk-sql.js';
import { upsertChunk } from './chunk-upsert.js';
import { notFoundRow } from './mode-rule.js';

/** What settling a merge's vanished rows did, and the rows of mode=update left without a product. */
export interface SettledRows {
  counts: MergeCounts;
  notFound: RejectedRow[];
}

/** "Stored product `p` is that of chunk row `c`, one of the rows numbered in `rows`", bounded by an `= ANY` index condition. */
const storedOfRows = (rows: string) =>
  `c.ean = p.ean AND p.account_id = $1 AND p.ean = ANY (ARRAY(SELECT ean FROM import_chunk WHERE row = ANY (${rows}::bigint[])))`;

/**
 * Settles the chunk rows `rows` that mergeChunk neither wrote nor counted: their stored product was
 * deleted by another transaction while the merge ran (and may have been stored again since). They
 * end as if that delete had committed before the merge. mode=upsert and create insert them, or
 * update a product stored again, through upsertChunk, whose INSERT … ON CONFLICT gets past another
 * such delete by itself. mode=update only changes stored products: it locks those that are still
 * there (so they cannot vanish again before the UPDATE reaches them), updates the ones that differ
 * and reports the others NOT_FOUND, as its rule before the merge would have.
 */
export async function mergeVanishedRows(
  tx: DbClient,
  accountId: string,
  mode: ImportMode,
  shape: MergeShape,
  rows: number[],
): Promise<SettledRows> {
  if (mode !== 'update') return { counts: await upsertChunk(tx, accountId, shape, rows.length, rows), notFound: [] };
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
    notFound: rows.filter((row) => !kept.has(row)).map(notFoundRow),
  };
}
