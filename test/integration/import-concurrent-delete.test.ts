import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { createChunkTables, mergeChunk, type MergeShape } from '../../src/workers/import/chunk-sql.js';
import { notFoundRow } from '../../src/workers/import/mode-rule.js';
import { mergeVanishedRows } from '../../src/workers/import/vanished-rows.js';
import { reportOf, untilQueueReady } from '../support/csv.js';
import { heldWrite, importAcrossHeldWrite, productsCsv, recoveryEan, type HeldWrite } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A product deleted through another transaction while an import's merge is pairing the file's
 * rows with their stored products: the merge saw the product, the DELETE commits, and only then
 * does the merge reach the row. The import must end, on its first attempt, as if the DELETE came
 * first (API.md §4: an import never loses a row): an upsert creates the product again, mode=update
 * reports the row NOT_FOUND, and a product stored again by the same transaction is updated. None
 * counts the row as unchanged, since it differs from what was stored.
 */

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const ROWS = 20;
/** The product deleted mid-merge: row 7 of every file. */
const DELETED = recoveryEan(7);

/** A DELETE of a product, made but not committed: an import that reaches the row waits for it. */
/** Deletes the product in a transaction left open; with `storeAgain`, stores a product of that name under its EAN again. */
async function holdDelete(db: Db, accountId: string, ean: string, storeAgain?: string): Promise<HeldWrite> {
  const holder = await db.connect();
  await holder.query('BEGIN');
  const { rowCount } = await holder.query('DELETE FROM products WHERE account_id = $1 AND ean = $2', [accountId, ean]);
  expect(rowCount).toBe(1);
  if (storeAgain) await holder.query('INSERT INTO products (account_id, ean, name) VALUES ($1, $2, $3)', [accountId, ean, storeAgain]);
  return heldWrite(db, holder);
}

/**
 * Fills the account's catalog, then imports every product again with another name while a DELETE
 * of {@link DELETED} is held (see holdDelete): once the import waits for it, the DELETE commits.
 * Returns the job once it has ended, on its first attempt.
 */
async function reimportAcrossDelete(account: { id: string; key: string }, query: Record<string, string>, storeAgain?: string) {
  const first = await ctx.importCsv(account.key, productsCsv(1, ROWS, 'First'));
  expect(first.progress).toMatchObject({ rows_created: ROWS });
  const held = await holdDelete(ctx.db, account.id, DELETED, storeAgain);
  return importAcrossHeldWrite(ctx, account.key, productsCsv(1, ROWS, 'Second'), query, held, 'the import to reach the deleted product');
}

const productNamed = async (key: string, name: string) => {
  const product = await ctx.get(key, `/v1/products/${DELETED}`);
  expect(product.statusCode).toBe(200);
  expect(product.json()).toMatchObject({ ean: DELETED, name });
};

describe('a product deleted while an import merges its row', () => {
  it('is created again by an upsert with the file\'s values, and counted as created', async () => {
    const account = await ctx.createAccount();
    const job = await reimportAcrossDelete(account, {});
    expect(job.status).toBe('completed');
    expect(job.detail).toBe(`${ROWS} rows imported.`);
    expect(job.progress).toMatchObject({ rows_failed: 0, rows_created: 1, rows_updated: ROWS - 1, rows_unchanged: 0 });
    await productNamed(account.key, 'Second 7');
    expect((await ctx.get(account.key, `/v1/products/${DELETED}`)).json()).toMatchObject({ brand: 'Brand 7', stock: 7 });
    const { rows } = await ctx.db.query('SELECT count(*)::int AS n FROM products WHERE account_id = $1', [account.id]);
    expect(rows[0].n).toBe(ROWS);
  });

  it('is reported NOT_FOUND by mode=update, which creates nothing, and the other rows are updated', async () => {
    const account = await ctx.createAccount();
    const job = await reimportAcrossDelete(account, { mode: 'update', on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 0, rows_updated: ROWS - 1, rows_unchanged: 0 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      {
        row: 7,
        ean: DELETED,
        field: 'ean',
        code: 'NOT_FOUND',
        message: 'No product with this EAN exists (mode=update only changes existing products).',
      },
    ]);
    expect((await ctx.get(account.key, `/v1/products/${DELETED}`)).statusCode).toBe(404);
  });

  for (const mode of ['upsert', 'update']) {
    it(`is updated by mode=${mode} when the same transaction stored a product under its EAN again`, async () => {
      const account = await ctx.createAccount();
      const job = await reimportAcrossDelete(account, { mode }, 'Stored again');
      expect(job.status).toBe('completed');
      expect(job.progress).toMatchObject({ rows_failed: 0, rows_created: 0, rows_updated: ROWS, rows_unchanged: 0 });
      await productNamed(account.key, 'Second 7');
    });
  }
});

describe('a mode=update merge whose row lost its product after the mode\'s rule found it', () => {
  it('leaves the row unaccounted for, and settling it reports NOT_FOUND instead of counting it unchanged', async () => {
    const account = await ctx.createAccount();
    await ctx.db.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'Stored')`, [account.id, recoveryEan(1)]);
    const shape: MergeShape = { columns: new Set(['ean', 'name']), attributeNames: [], attributesJson: false };
    const tx = await ctx.db.connect();
    try {
      await tx.query('BEGIN');
      await createChunkTables(tx, { firstLoad: false });
      // Row 2's product was there for rejectByMode and deleted before the merge began.
      await tx.query(
        `INSERT INTO import_chunk (row, ean, name, attributes) VALUES (1, $1, 'New name', '{}'), (2, $2, 'Gone', '{}')`,
        [recoveryEan(1), recoveryEan(2)],
      );
      const merged = await mergeChunk(tx, account.id, 'update', shape, 2, false);
      expect(merged).toEqual({ counts: { created: 0, updated: 1, unchanged: 0 }, vanished: [2] });
      expect(await mergeVanishedRows(tx, account.id, 'update', shape, merged!.vanished)).toEqual({
        counts: { created: 0, updated: 0, unchanged: 0 },
        rejected: [notFoundRow(2)],
      });
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    const { rows } = await ctx.db.query('SELECT ean, name FROM products WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([{ ean: recoveryEan(1), name: 'New name' }]);
  });
});
