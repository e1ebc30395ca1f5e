import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// mode=create|update|upsert, unchanged rows, repeated EANs and dry runs (API.md §4 "Import rules").

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const PEN = '4006381333931';
const INK = '96385074';
const PAPER = '5901234123457';

/** A fresh account whose catalog holds Pen and Ink (imported through the API). */
async function accountWithPenAndInk() {
  const account = await ctx.createAccount();
  const seeded = await ctx.importCsv(
    account.key,
    toCsv([
      ['ean', 'name', 'brand', 'price', 'currency', 'stock', 'color', 'size'],
      [PEN, 'Pen', 'Acme', '1.50', 'EUR', '10', 'blue', 'M'],
      [INK, 'Ink', 'Acme', '2', 'EUR', '5', 'black', ''],
    ]),
  );
  expect(seeded.progress.rows_created).toBe(2);
  return account;
}

describe('import modes', () => {
  it('gives an existing EAN a DUPLICATE_EAN row error with mode=create', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([['ean', 'name'], [PEN, 'Pen again'], [PAPER, 'Paper']]);
    const job = await ctx.importCsv(account.key, csv, { mode: 'create', on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 1, rows_updated: 0, rows_unchanged: 0 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 1, ean: PEN, field: 'ean', code: 'DUPLICATE_EAN', message: 'A product with this EAN already exists.' },
    ]);
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => [product.ean, product.name])).toEqual([
      [PEN, 'Pen'],
      [PAPER, 'Paper'],
      [INK, 'Ink'],
    ]);
  });

  it('fails a mode=create import under on_error=abort when one EAN exists', async () => {
    const account = await accountWithPenAndInk();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name'], [PAPER, 'Paper'], [INK, 'Ink 2']]), {
      mode: 'create',
    });
    expect(job.status).toBe('failed');
    expect(job.detail).toBe(`1 of 2 rows failed validation; no rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect((await storedProducts(ctx, account.id)).map((product) => product.ean)).toEqual([PEN, INK]);
  });

  it('gives an unknown EAN a NOT_FOUND row error with mode=update', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([['ean', 'stock'], [PAPER, '1'], [INK, '6']]);
    const job = await ctx.importCsv(account.key, csv, { mode: 'update', on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 0, rows_updated: 1, rows_unchanged: 0 });
    const [entry] = await reportOf(ctx, account.key, job.id);
    expect(entry).toMatchObject({ row: 1, ean: PAPER, field: 'ean', code: 'NOT_FOUND' });
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => [product.ean, product.stock])).toEqual([[PEN, 10], [INK, 6]]);
  });

  it('creates new EANs and updates existing ones with mode=upsert (the default), counting each', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([
      ['ean', 'name', 'brand', 'price', 'currency', 'stock'],
      [PEN, 'Pen', 'Acme', '1.50', 'EUR', '10'],
      [INK, 'Ink', 'Acme', '2.00', 'EUR', '5'],
      [PAPER, 'Paper', '', '', '', ''],
      ['10614141000415', 'Box', '', '', '', ''],
    ]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    expect(job.options).toMatchObject({ mode: 'upsert' });
    // Ink's price "2" becomes "2.00": a new scale is a change (the price is returned as given).
    expect(job.progress).toMatchObject({
      rows_total: 4, rows_succeeded: 4, rows_failed: 0, rows_created: 2, rows_updated: 1, rows_unchanged: 1,
    });
    expect((await ctx.get(account.key, `/v1/products/${INK}`)).json()).toMatchObject({ price: '2.00' });
    expect(await storedProducts(ctx, account.id)).toHaveLength(4);
  });
});

describe('import of unchanged and partial rows', () => {
  it('counts a re-import of the same file as unchanged and does not rewrite the rows', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([
      ['ean', 'name', 'price', 'currency', 'stock', 'color'],
      [PEN, 'Pen', '1.50', 'eur', '10', 'blue'],
      [INK, 'Ink', '', '', '', ''],
    ]);
    const first = await ctx.importCsv(account.key, csv);
    expect(first.progress.rows_created).toBe(2);
    const before = await storedProducts(ctx, account.id);

    const again = await ctx.importCsv(account.key, csv);
    expect(again.status).toBe('completed');
    expect(again.progress).toMatchObject({ rows_succeeded: 2, rows_created: 0, rows_updated: 0, rows_unchanged: 2 });
    expect(await storedProducts(ctx, account.id)).toEqual(before);
  });

  it('counts one update when one field of one row changed, touching only that product', async () => {
    const account = await accountWithPenAndInk();
    const before = await storedProducts(ctx, account.id);
    const csv = toCsv([
      ['ean', 'name', 'brand', 'price', 'currency', 'stock'],
      [PEN, 'Pen', 'Acme', '1.50', 'EUR', '11'],
      [INK, 'Ink', 'Acme', '2', 'EUR', '5'],
    ]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.progress).toMatchObject({ rows_created: 0, rows_updated: 1, rows_unchanged: 1 });
    const after = await storedProducts(ctx, account.id);
    const pen = after.find((product) => product.ean === PEN)!;
    expect(pen.stock).toBe(11);
    expect(pen.updated_at.getTime()).toBeGreaterThan(before.find((product) => product.ean === PEN)!.updated_at.getTime());
    expect(after.find((product) => product.ean === INK)).toEqual(before.find((product) => product.ean === INK));
  });

  it('keeps the stored values of columns the file does not have', async () => {
    const account = await accountWithPenAndInk();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name'], [PEN, 'Fountain pen']]));
    expect(job.progress).toMatchObject({ rows_updated: 1, rows_created: 0 });
    const pen = (await storedProducts(ctx, account.id)).find((product) => product.ean === PEN);
    expect(pen).toMatchObject({
      name: 'Fountain pen', brand: 'Acme', price: '1.50', currency: 'EUR', stock: 10, attributes: { color: 'blue', size: 'M' },
    });
  });

  it('keeps the name and other columns when mode=update changes one column', async () => {
    const account = await accountWithPenAndInk();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'stock'], [PEN, '0'], [INK, '5']]), { mode: 'update' });
    expect(job.progress).toMatchObject({ rows_updated: 1, rows_unchanged: 1 });
    const pen = (await storedProducts(ctx, account.id)).find((product) => product.ean === PEN);
    expect(pen).toMatchObject({ name: 'Pen', brand: 'Acme', price: '1.50', stock: 0 });
  });

  it('merges attribute columns over the stored attributes; an empty cell removes one', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([['ean', 'name', 'color', 'material'], [PEN, 'Pen', '', 'steel']]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.progress.rows_updated).toBe(1);
    const pen = (await storedProducts(ctx, account.id)).find((product) => product.ean === PEN);
    expect(pen!.attributes).toEqual({ size: 'M', material: 'steel' });
  });

  it('counts a row whose attribute cells match the stored attributes as unchanged', async () => {
    const account = await accountWithPenAndInk();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'size'], [PEN, 'Pen', 'M'], [INK, 'Ink', '']]));
    expect(job.progress).toMatchObject({ rows_updated: 0, rows_unchanged: 2 });
  });
});

describe('import of a price or a currency without the other column', () => {
  // API.md §3: the catalog never holds a price without a currency. When the file has only one of
  // the two columns, the product the row merges into decides it.
  const CURRENCY_REQUIRED = { field: 'currency', code: 'REQUIRED', message: 'The currency field is required when price is set.' };
  const priceAndCurrency = async (accountId: string) =>
    (await storedProducts(ctx, accountId)).map((product) => [product.ean, product.name, product.price, product.currency]);

  it('refuses an empty currency cell that would leave a stored price without currency (upsert, abort)', async () => {
    const account = await accountWithPenAndInk();
    const before = await storedProducts(ctx, account.id);
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'currency'], [PEN, 'Priced', '']]));
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: PEN, ...CURRENCY_REQUIRED }]);
    expect(await storedProducts(ctx, account.id)).toEqual(before);
  });

  it('reports that row and writes the others under on_error=skip (upsert)', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([['ean', 'name', 'currency'], [PEN, 'Priced', ''], [INK, 'Ink', 'usd'], [PAPER, 'Paper', '']]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 1, rows_updated: 1, rows_unchanged: 0 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: PEN, ...CURRENCY_REQUIRED }]);
    expect(await priceAndCurrency(account.id)).toEqual([
      [PEN, 'Pen', '1.50', 'EUR'],
      [PAPER, 'Paper', null, null],
      [INK, 'Ink', '2', 'USD'],
    ]);
  });

  it('refuses an empty currency cell on a priced product with mode=update, abort and skip', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([['ean', 'currency'], [PEN, ''], [INK, 'GBP']]);
    const aborted = await ctx.importCsv(account.key, csv, { mode: 'update' });
    expect(aborted.status).toBe('failed');
    expect(aborted.error_code).toBe('IMPORT_FAILED');
    expect(await reportOf(ctx, account.key, aborted.id)).toEqual([{ row: 1, ean: PEN, ...CURRENCY_REQUIRED }]);
    expect(await priceAndCurrency(account.id)).toEqual([[PEN, 'Pen', '1.50', 'EUR'], [INK, 'Ink', '2', 'EUR']]);

    const skipped = await ctx.importCsv(account.key, csv, { mode: 'update', on_error: 'skip' });
    expect(skipped.status).toBe('completed');
    expect(skipped.progress).toMatchObject({ rows_failed: 1, rows_updated: 1 });
    expect(await reportOf(ctx, account.key, skipped.id)).toEqual([{ row: 1, ean: PEN, ...CURRENCY_REQUIRED }]);
    expect(await priceAndCurrency(account.id)).toEqual([[PEN, 'Pen', '1.50', 'EUR'], [INK, 'Ink', '2', 'GBP']]);
  });

  it('takes a price without a currency column when the stored product has a currency (mode=update)', async () => {
    const account = await accountWithPenAndInk();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'price'], [PEN, '2.75']]), { mode: 'update' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 0, rows_updated: 1 });
    expect(await priceAndCurrency(account.id)).toEqual([[PEN, 'Pen', '2.75', 'EUR'], [INK, 'Ink', '2', 'EUR']]);
  });

  it('refuses a price without a currency column for a product that has no currency, abort and skip', async () => {
    const account = await accountWithPenAndInk();
    expect((await ctx.importCsv(account.key, toCsv([['ean', 'name'], [PAPER, 'Paper']]))).status).toBe('completed');
    const csv = toCsv([['ean', 'price'], [PEN, '2.75'], [PAPER, '3.00']]);
    const aborted = await ctx.importCsv(account.key, csv, { mode: 'update' });
    expect(aborted.status).toBe('failed');
    expect(aborted.error_code).toBe('IMPORT_FAILED');
    expect(await reportOf(ctx, account.key, aborted.id)).toEqual([{ row: 2, ean: PAPER, ...CURRENCY_REQUIRED }]);
    expect((await storedProducts(ctx, account.id)).find((product) => product.ean === PEN)).toMatchObject({ price: '1.50' });

    const skipped = await ctx.importCsv(account.key, csv, { mode: 'update', on_error: 'skip' });
    expect(skipped.progress).toMatchObject({ rows_failed: 1, rows_updated: 1 });
    expect(await reportOf(ctx, account.key, skipped.id)).toEqual([{ row: 2, ean: PAPER, ...CURRENCY_REQUIRED }]);
    expect(await priceAndCurrency(account.id)).toEqual([
      [PEN, 'Pen', '2.75', 'EUR'],
      [PAPER, 'Paper', null, null],
      [INK, 'Ink', '2', 'EUR'],
    ]);
  });

  it('refuses a price without a currency column for a new EAN (upsert), also on a first load', async () => {
    const account = await accountWithPenAndInk();
    const csv = toCsv([['ean', 'name', 'price'], [PEN, 'Pen', '1.75'], [PAPER, 'Paper', '3.00']]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 0, rows_updated: 1 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 2, ean: PAPER, ...CURRENCY_REQUIRED }]);
    expect(await priceAndCurrency(account.id)).toEqual([[PEN, 'Pen', '1.75', 'EUR'], [INK, 'Ink', '2', 'EUR']]);

    const empty = await ctx.createAccount();
    const firstLoad = await ctx.importCsv(empty.key, csv, { on_error: 'skip' });
    expect(firstLoad.progress).toMatchObject({ rows_failed: 2, rows_created: 0 });
    expect(await reportOf(ctx, empty.key, firstLoad.id)).toEqual([
      { row: 1, ean: PEN, ...CURRENCY_REQUIRED },
      { row: 2, ean: PAPER, ...CURRENCY_REQUIRED },
    ]);
  });
});

describe('import of a repeated EAN', () => {
  const twice = toCsv([['ean', 'name'], [PEN, 'First'], [INK, 'Ink'], [PEN, 'Second']]);

  it('gives the later row DUPLICATE_EAN and fails under on_error=abort', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, twice);
    expect(job.status).toBe('failed');
    expect(job.detail).toBe(`1 of 3 rows failed validation; no rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 3, ean: PEN, field: 'ean', code: 'DUPLICATE_EAN', message: `The EAN ${PEN} already appears in row 1 of this file.` },
    ]);
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('imports the first occurrence under on_error=skip', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, twice, { on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 2 });
    const pen = (await storedProducts(ctx, account.id)).find((product) => product.ean === PEN);
    expect(pen!.name).toBe('First');
  });
});

describe('import dry run', () => {
  it('writes nothing with dry_run=true but counts what would happen', async () => {
    const account = await accountWithPenAndInk();
    const before = await storedProducts(ctx, account.id);
    const csv = toCsv([['ean', 'name', 'stock'], [PEN, 'Pen', '10'], [INK, 'Ink', '9'], [PAPER, 'Paper', '1']]);
    const job = await ctx.importCsv(account.key, csv, { dry_run: 'true' });
    expect(job.status).toBe('completed');
    expect(job.options).toMatchObject({ dry_run: true });
    expect(job.detail).toMatch(/^Dry run:/);
    expect(job.detail).toBe('Dry run: 3 rows would be imported; nothing was written.');
    expect(job.progress).toMatchObject({ rows_succeeded: 3, rows_created: 1, rows_updated: 1, rows_unchanged: 1 });
    expect(await storedProducts(ctx, account.id)).toEqual(before);
  });

  it('reports row problems in a dry run and says so in the detail', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([['ean', 'name'], [PEN, 'Pen'], [INK, '']]);
    const job = await ctx.importCsv(account.key, csv, { dry_run: 'true', on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.detail).toBe(
      `Dry run: 1 row would be imported; nothing was written. 1 of 2 rows failed validation and were skipped. See /v1/jobs/${job.id}/errors.`,
    );
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 1 });
    expect(await reportOf(ctx, account.key, job.id)).toMatchObject([{ row: 2, field: 'name', code: 'REQUIRED' }]);
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('fails a dry run under on_error=abort like the real import would', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name'], [PEN, 'Pen'], ['123', 'Bad']]), {
      dry_run: 'true',
    });
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toBe(`Dry run: 1 of 2 rows failed validation; no rows were imported. See /v1/jobs/${job.id}/errors.`);
  });
});
