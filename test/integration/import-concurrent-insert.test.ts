import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { reportOf, untilQueueReady } from '../support/csv.js';
import { heldWrite, importAcrossHeldWrite, productsCsv, recoveryEan, type HeldWrite } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Another import (or any writer) of the account inserting one of the file's new EANs while an
 * import merges its chunk: the merge's INSERT waits for that product, which then commits. The
 * import must end on its first attempt (one attempt is all it gets here) as if that product had
 * been stored first: an upsert updates it (or counts it unchanged), mode=create reports the row
 * DUPLICATE_EAN, as for any EAN that exists (API.md §4).
 */

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { JOB_ATTEMPTS: '1' } });
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const ROWS = 20;
/** The product another transaction inserts mid-merge: row 7 of the file. */
const RACED = 7;

/** A file of attribute columns (`color`): its chunks are merged by mergeChunk, whatever the mode. */
const attributeCsv = (first: number, count: number, label: string) =>
  Buffer.from(
    productsCsv(first, count, label)
      .toString()
      .replace(/\n(?=.)/g, ',red\n')
      .replace(/\n$/, ',red\n')
      .replace('stock,red\n', 'stock,color\n'),
  );

/** An INSERT of a product, made but not committed: an import inserting that EAN waits for it. */
async function holdInsert(db: Db, accountId: string, values: { name: string; brand: string; price: string; stock: number; color: string }): Promise<HeldWrite> {
  const holder = await db.connect();
  await holder.query('BEGIN');
  await holder.query(
    `INSERT INTO products (account_id, ean, name, brand, price, currency, stock, attributes)
     VALUES ($1, $2, $3, $4, $5::numeric, 'EUR', $6, jsonb_build_object('color', $7::text))`,
    [accountId, recoveryEan(RACED), values.name, values.brand, values.price, values.stock, values.color],
  );
  return heldWrite(db, holder);
}

/**
 * Stores products the file does not have (the catalog is not empty), then imports ROWS new
 * products while an INSERT of row {@link RACED}'s EAN with `values` is held: once the import waits
 * for it, the INSERT commits. Returns the job once it has ended, on its first attempt.
 */
async function importAcrossInsert(account: { id: string; key: string }, query: Record<string, string>, values: Parameters<typeof holdInsert>[2]) {
  const stored = await ctx.importCsv(account.key, attributeCsv(101, 5, 'Stored'));
  expect(stored.progress).toMatchObject({ rows_created: 5 });
  const held = await holdInsert(ctx.db, account.id, values);
  return importAcrossHeldWrite(ctx, account.key, attributeCsv(1, ROWS, 'New'), query, held, 'the import to reach the inserted product');
}

const racedProduct = async (key: string) => {
  const product = await ctx.get(key, `/v1/products/${recoveryEan(RACED)}`);
  expect(product.statusCode).toBe(200);
  return product.json<Record<string, unknown>>();
};

/** Row RACED of attributeCsv(…, 'New') as stored. */
const FILE_ROW = { name: `New ${RACED}`, brand: `Brand ${RACED}`, price: `${RACED}.5`, stock: RACED, color: 'red' };

describe('a new EAN of the file inserted by another transaction while an import merges its row', () => {
  it('is updated by an upsert with the file\'s values, and counted as updated', async () => {
    const account = await ctx.createAccount();
    const job = await importAcrossInsert(account, {}, { name: 'Other', brand: 'Other brand', price: '1.00', stock: 1, color: 'blue' });
    expect(job.status, job.detail ?? '').toBe('completed');
    expect(job.detail).toBe(`${ROWS} rows imported.`);
    expect(job.progress).toMatchObject({ rows_failed: 0, rows_created: ROWS - 1, rows_updated: 1, rows_unchanged: 0 });
    expect(await racedProduct(account.key)).toMatchObject({ name: FILE_ROW.name, brand: FILE_ROW.brand, stock: RACED, attributes: { color: 'red' } });
  });

  it('is counted unchanged by an upsert when it already has the file\'s values', async () => {
    const account = await ctx.createAccount();
    const job = await importAcrossInsert(account, {}, FILE_ROW);
    expect(job.status, job.detail ?? '').toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 0, rows_created: ROWS - 1, rows_updated: 0, rows_unchanged: 1 });
  });

  it('is reported DUPLICATE_EAN by mode=create, which leaves the stored product as it is', async () => {
    const account = await ctx.createAccount();
    const job = await importAcrossInsert(account, { mode: 'create', on_error: 'skip' }, { ...FILE_ROW, name: 'Other' });
    expect(job.status, job.detail ?? '').toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: ROWS - 1, rows_updated: 0, rows_unchanged: 0 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: RACED, ean: recoveryEan(RACED), field: 'ean', code: 'DUPLICATE_EAN', message: 'A product with this EAN already exists.' },
    ]);
    expect(await racedProduct(account.key)).toMatchObject({ name: 'Other' });
  });

  it('fails a mode=create import with on_error=abort, which then writes no row', async () => {
    const account = await ctx.createAccount();
    const job = await importAcrossInsert(account, { mode: 'create' }, { ...FILE_ROW, name: 'Other' });
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toBe(`1 of ${ROWS} rows failed validation; no rows were imported. See /v1/jobs/${job.id}/errors.`);
    const { rows } = await ctx.db.query('SELECT count(*)::int AS n FROM products WHERE account_id = $1', [account.id]);
    expect(rows[0].n).toBe(5 + 1);
  });
});
