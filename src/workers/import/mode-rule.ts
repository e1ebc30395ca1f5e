import type { DbClient } from '../../shared/db/pool.js';
import type { ImportMode } from '../../shared/jobs/import-options.js';
import type { RejectedRow } from './chunk-sql.js';

/** "The account's catalog has chunk row `c`'s EAN", as one index probe. */
const STORED = `(SELECT true FROM products p WHERE p.account_id = $1 AND p.ean = c.ean) IS NOT NULL`;

/** The row error of a mode=update row whose EAN has no stored product. */
export const notFoundRow = (row: number): RejectedRow => ({
  row,
  field: 'ean',
  code: 'NOT_FOUND',
  message: 'No product with this EAN exists (mode=update only changes existing products).',
});

/** The row error of a mode=create row whose EAN has a stored product. */
export const existingEanRow = (row: number): RejectedRow => ({
  row,
  field: 'ean',
  code: 'DUPLICATE_EAN',
  message: 'A product with this EAN already exists.',
});

/**
 * Applies the rule of `mode` against the stored catalog: `create` rejects EANs that exist
 * (`DUPLICATE_EAN`), `update` rejects EANs that do not (`NOT_FOUND`); `upsert` takes both.
 * `allNew` says that no EAN of the chunk can be stored (see mergeChunk).
 */
export async function rejectByMode(
  tx: DbClient,
  accountId: string,
  mode: ImportMode,
  allNew: boolean,
): Promise<RejectedRow[]> {
  // With `allNew`, create has nothing to reject (update still rejects every row, as NOT_FOUND).
  if (mode === 'upsert' || (mode === 'create' && allNew)) return [];
  const { rows } = await tx.query<{ row: number }>(
    `DELETE FROM import_chunk c WHERE ${mode === 'create' ? STORED : `NOT ${STORED}`} RETURNING c.row`,
    [accountId],
  );
  return rows.map(({ row }) => (mode === 'create' ? existingEanRow(row) : notFoundRow(row)));
}
