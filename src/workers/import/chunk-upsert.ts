import type { DbClient } from '../../shared/db/pool.js';
import { changedCondition, insertChunkRows, updatedValues, type MergeCounts, type MergeShape } from './chunk-sql.js';

/** A value of the row the upsert tried to insert: its columns as products holds them (price already numeric). */
const excluded = (column: string) => `EXCLUDED.${column}`;

/**
 * Merges the chunk table's `staged` rows of an upsert with one index probe each: one
 * `INSERT … ON CONFLICT DO UPDATE`, which inserts a new EAN and updates a stored product only where
 * some column differs. For chunks whose unchanged rows were taken out in the worker (see
 * UnchangedRows): nearly every row left is new or changed, where {@link mergeChunk} would look each
 * one up twice, once to pair it and once to update it. A stored row it leaves as it is (a value
 * written in another form) is locked all the same, which is why chunks still full of unchanged
 * rows go to mergeChunk. A concurrent import's insert of one of its EANs is waited for and then
 * updated, as that EAN's stored product. The chunk's EANs are all different (rows were checked for
 * repeats in the worker), as ON CONFLICT needs.
 *
 * With `rows`, only the chunk rows with those numbers are merged, `staged` being how many (see
 * mergeVanishedRows). A stored product deleted by another transaction while the statement waits
 * for it is no conflict any more: PostgreSQL inserts the row instead.
 *
 * A row inserted has no `xmax`; a row updated by the upsert carries its transaction's lock there.
 */
export async function upsertChunk(
  tx: DbClient,
  accountId: string,
  shape: MergeShape,
  staged: number,
  rows: number[] | null = null,
): Promise<MergeCounts> {
  const { rows: merged } = await tx.query<{ created: number; updated: number }>(
    `WITH merged AS (
       ${insertChunkRows(rows ? 'WHERE c.row = ANY ($3::bigint[])' : '')}
       ON CONFLICT (account_id, ean) DO UPDATE SET ${updatedValues(shape, excluded)}
       WHERE ${changedCondition(shape, excluded)}
       RETURNING p.xmax = 0 AS created)
     SELECT count(*) FILTER (WHERE created)::int AS created, count(*) FILTER (WHERE NOT created)::int AS updated FROM merged`,
    rows ? [accountId, shape.attributeNames, rows] : [accountId, shape.attributeNames],
  );
  const { created, updated } = merged[0]!;
  return { created, updated, unchanged: staged - created - updated };
}
