import { setTimeout as sleep } from 'node:timers/promises';
import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import { lockSearchExclusive } from '../../shared/product/product-search.js';

/** Products compared per transaction: a direct write of the account waits for one batch at most. */
const BATCH_ROWS = 5_000;

/** What one catch-up changed in product_search. */
export interface CatchUpResult {
  /** Search rows inserted or rewritten (a new name, brand or category). */
  written: number;
  /** Search rows whose product no longer exists. */
  removed: number;
  /** Whether the account's backlog mark was removed (false: an import marked it again meanwhile). */
  cleared: boolean;
}

/**
 * Brings the account's product_search up to date with its products, then removes its backlog mark
 * if no import has set it again since the catch-up began (see migrations/010_name_search.sql).
 * Returns null when the account has no mark (or `shouldStop` ended a wait for the lock). Batches
 * walk the catalog in EAN order, each in a transaction that holds the account's search lock
 * exclusively (see product-search.ts), and write only rows that differ, so a catch-up after a
 * small import writes little. `shouldStop` is asked between batches (shutdown): the mark then
 * stays, for the reconciler. One catch-up of an account runs at a time across worker processes (a
 * session advisory lock): every process's reconciler finds the same marks, and a catch-up of a
 * large catalog reads all of it.
 */
export async function catchUpSearch(db: Db, accountId: string, shouldStop: () => boolean = () => false): Promise<CatchUpResult | null> {
  const holder = await db.connect();
  let locked = false;
  let broken = false;
  try {
    locked = await takeCatchUpLock(holder, accountId, shouldStop);
    return locked ? await catchUpHoldingLock(db, accountId, shouldStop) : null;
  } finally {
    if (locked) {
      await holder.query(`SELECT pg_advisory_unlock(${CATCH_UP_LOCK_KEY})`, [accountId]).catch(() => {
        broken = true;
      });
    }
    // A connection that could not unlock is dropped: its session, and the lock with it, end.
    holder.release(broken);
  }
}

/** The session advisory lock key of an account's catch-up: one at a time, across worker processes. */
const CATCH_UP_LOCK_KEY = `hashtextextended('product_search_catch_up:' || $1, 0)`;
/** How often a catch-up that waits for another process's tries the lock again. */
const LOCK_POLL_MS = 250;

/**
 * Takes the account's catch-up lock on `holder`, waiting while another worker process holds it
 * (its reconciler found the same mark). Once it is free, that catch-up has ended: this one then
 * finds the mark gone and does nothing, or set again by an import that committed meanwhile, and
 * runs. False when `shouldStop` said so while waiting.
 */
async function takeCatchUpLock(holder: DbClient, accountId: string, shouldStop: () => boolean): Promise<boolean> {
  for (;;) {
    const { rows } = await holder.query<{ taken: boolean }>(`SELECT pg_try_advisory_lock(${CATCH_UP_LOCK_KEY}) AS taken`, [accountId]);
    if (rows[0]!.taken) return true;
    if (shouldStop()) return false;
    await sleep(LOCK_POLL_MS);
  }
}

async function catchUpHoldingLock(db: Db, accountId: string, shouldStop: () => boolean): Promise<CatchUpResult | null> {
  const { rows: marks } = await db.query<{ version: string }>(
    'SELECT version::text FROM product_search_backlog WHERE account_id = $1',
    [accountId],
  );
  if (!marks[0]) return null;
  const result: CatchUpResult = { written: 0, removed: 0, cleared: false };
  let after = '';
  for (let more = true; more; ) {
    if (shouldStop()) return result;
    const batch = await withTransaction(db, async (client) => {
      await lockSearchExclusive(client, accountId);
      // No statement timeout: a batch of long names takes many seconds on a slow machine, and one
      // cancelled would be cancelled again on every retry (each starts from the first EAN).
      // The batch's last EAN: BATCH_ROWS products on, or none (the batch runs to the end).
      const { rows: ends } = await client.query<{ ean: string }>(
        `SELECT ean FROM products WHERE account_id = $1 AND ean > $2 ORDER BY ean OFFSET ${BATCH_ROWS - 1} LIMIT 1`,
        [accountId, after],
      );
      const last = ends[0]?.ean ?? null;
      const { write, remove } = catchUpBatchStatements(accountId, after, last);
      const written = await client.query(write.text, write.values);
      const removed = await client.query(remove.text, remove.values);
      return { last, written: written.rowCount ?? 0, removed: removed.rowCount ?? 0 };
    });
    result.written += batch.written;
    result.removed += batch.removed;
    if (batch.last === null) more = false;
    else after = batch.last;
  }
  // Merge the entries written into the trigram index now rather than at the next (auto)vacuum:
  // until then every search reads them from the index's unsorted pending list.
  if (result.written > 0) await db.query(`SELECT gin_clean_pending_list('product_search_name_trgm_idx')`);
  const { rowCount } = await db.query('DELETE FROM product_search_backlog WHERE account_id = $1 AND version = $2::bigint', [
    accountId,
    marks[0].version,
  ]);
  result.cleared = rowCount === 1;
  return result;
}

/** One parameterized statement. */
interface Statement {
  text: string;
  values: unknown[];
}

/**
 * The two statements of the batch after EAN `after` up to `last` (null: to the end). Exported so
 * that a test can EXPLAIN exactly what runs. The other table is looked up row by row through a
 * scalar subquery (one primary key probe per row, as in the import's chunk SQL): a catch-up runs
 * right after its rows were written, when the planner's statistics know little of them, and left
 * to choose it may join a whole range against a whole range row by row. The primary key is the
 * only index of either table that these statements can use (migrations/026), so no statistics can
 * turn a probe into a walk over the account's entries.
 */
export function catchUpBatchStatements(accountId: string, after: string, last: string | null): { write: Statement; remove: Statement } {
  const range = (alias: string) => (last === null ? `${alias}.ean > $2` : `${alias}.ean > $2 AND ${alias}.ean <= $3`);
  const values = last === null ? [accountId, after] : [accountId, after, last];
  return { write: { text: writeBatchSql(range), values }, remove: { text: removeBatchSql(range), values } };
}

/** The condition on the batch's EAN range, for the table under `alias`. */
type Range = (alias: string) => string;

/** Writes the search rows of the range that are missing or hold another name, brand or category than their product. */
const writeBatchSql = (range: Range) => `
  INSERT INTO product_search (account_id, ean, name, brand, category)
  SELECT $1, p.ean, p.name, p.brand, p.category FROM products p
  WHERE p.account_id = $1 AND ${range('p')}
    AND (SELECT s.name = p.name AND s.brand IS NOT DISTINCT FROM p.brand AND s.category IS NOT DISTINCT FROM p.category
         FROM product_search s WHERE s.account_id = $1 AND s.ean = p.ean) IS NOT TRUE
  ON CONFLICT (account_id, ean) DO UPDATE SET name = EXCLUDED.name, brand = EXCLUDED.brand, category = EXCLUDED.category`;

/** Removes the search rows of the range whose product is gone. */
const removeBatchSql = (range: Range) => `
  DELETE FROM product_search s
  WHERE s.account_id = $1 AND ${range('s')}
    AND (SELECT true FROM products p WHERE p.account_id = $1 AND p.ean = s.ean) IS NULL`;

/** Accounts whose search is behind their products, oldest mark first. */
export async function searchBacklogAccounts(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ account_id: string }>('SELECT account_id FROM product_search_backlog ORDER BY since');
  return rows.map((row) => row.account_id);
}
