import type { DbClient } from '../../shared/db/pool.js';

/**
 * Locks the stored products of the chunk table's rows that `rowsWhere` (a condition on chunk row
 * `c`) selects, until the import's transaction ends, before a rule of the merge reads them (a
 * price needs a currency, at most 1,000 attribute names). Without it the rule reads the products
 * as of its statement and the merge then writes onto whatever another writer (a PATCH, another
 * import) has committed since: a price onto a product whose currency was just removed. Once
 * locked, each product stays as the rule reads it (a READ COMMITTED statement after the lock sees
 * the latest version) until the import commits; a writer that got there first is waited for.
 * FOR NO KEY UPDATE is the lock the merge's UPDATE takes anyway, taken earlier, in the chunk's row
 * order as the merge does; a weaker shared lock would have to be upgraded by that UPDATE, and
 * two imports sharing a product would deadlock on every upgrade. A dry run writes nothing and
 * locks nothing. $1: the account.
 */
export async function lockStoredProducts(tx: DbClient, accountId: string, rowsWhere: string): Promise<void> {
  await tx.query(
    `SELECT count(*) FROM (
       SELECT 1 FROM import_chunk c JOIN products p ON p.account_id = $1 AND p.ean = c.ean
       WHERE ${rowsWhere} ORDER BY c.row FOR NO KEY UPDATE OF p
     ) locked`,
    [accountId],
  );
}
