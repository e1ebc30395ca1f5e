import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Row validation, stored values, and on_error=abort|skip (API.md §3 and §4 "Import rules").

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const HEADER = ['ean', 'name', 'description', 'price', 'currency', 'stock', 'image_url'];
const GOOD = ['4006381333931', 'Pen', '', '1.50', 'EUR', '3', 'https://example.com/pen.png'];

/** A file with one valid row and then `bad` (cells by column name over a valid second row). */
function fileWithBadRow(bad: Partial<Record<string, string>>): string {
  const second = ['96385074', 'Ink', '', '2', 'USD', '1', 'http://example.com/ink.png'];
  const row = HEADER.map((column, index) => bad[column] ?? second[index]!);
  return toCsv([HEADER, GOOD, row]);
}

const PRICE_MESSAGE = 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9.99".';
const STOCK_MESSAGE = 'The stock must be a whole number from 0 to 2147483647.';

describe('import row validation', () => {
  it.each([
    ['no EAN', { ean: '' }, null, 'ean', 'REQUIRED', 'The EAN field is required.'],
    ['an EAN of the wrong length', { ean: '12345' }, '12345', 'ean', 'INVALID_EAN', 'The EAN must be 8, 12, 13 or 14 digits.'],
    ['an EAN with letters', { ean: '40063813339AB' }, '40063813339AB', 'ean', 'INVALID_EAN', 'The EAN must be 8, 12, 13 or 14 digits.'],
    ['a bad check digit', { ean: '96385075' }, '96385075', 'ean', 'INVALID_CHECK_DIGIT', 'The EAN check digit is invalid.'],
    ['no name', { name: '' }, '96385074', 'name', 'REQUIRED', 'The name field is required.'],
    ['a blank name', { name: '   ' }, '96385074', 'name', 'REQUIRED', 'The name field is required.'],
    ['a name over 500 characters', { name: 'n'.repeat(501) }, '96385074', 'name', 'TOO_LONG', 'The name must be at most 500 characters.'],
    ['a description over 10,000 characters', { description: 'd'.repeat(10_001) }, '96385074', 'description', 'TOO_LONG', 'The description must be at most 10000 characters.'],
    ['price "1.2.3"', { price: '1.2.3' }, '96385074', 'price', 'INVALID_PRICE', PRICE_MESSAGE],
    ['price "-1"', { price: '-1' }, '96385074', 'price', 'INVALID_PRICE', PRICE_MESSAGE],
    ['price "1.23456"', { price: '1.23456' }, '96385074', 'price', 'INVALID_PRICE', PRICE_MESSAGE],
    ['a price without a currency', { currency: '' }, '96385074', 'currency', 'REQUIRED', 'The currency field is required when price is set.'],
    ['an unknown currency', { currency: 'EURO' }, '96385074', 'currency', 'INVALID_CURRENCY', 'The currency must be an ISO 4217 code such as EUR.'],
    ['a negative stock', { stock: '-1' }, '96385074', 'stock', 'INVALID_STOCK', STOCK_MESSAGE],
    ['a fractional stock', { stock: '1.5' }, '96385074', 'stock', 'INVALID_STOCK', STOCK_MESSAGE],
    ['an ftp image_url', { image_url: 'ftp://example.com/ink.png' }, '96385074', 'image_url', 'INVALID_URL', 'The image URL must be an http or https URL.'],
    ['an image_url that is no URL', { image_url: 'ink.png' }, '96385074', 'image_url', 'INVALID_URL', 'The image URL must be an http or https URL.'],
  ])('reports a row with %s as one entry and imports nothing', async (_label, bad, ean, field, code, message) => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, fileWithBadRow(bad));
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.progress).toMatchObject({ rows_total: 2, rows_failed: 1, rows_created: 0 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 2, ean, field, code, message }]);
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('accepts the limits themselves: 500-character name, 10,000-character description, 4 decimals, stock 0', async () => {
    const account = await ctx.createAccount();
    const csv = fileWithBadRow({ name: 'n'.repeat(500), description: 'd'.repeat(10_000), price: '0.0001', stock: '0' });
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    const ink = (await storedProducts(ctx, account.id)).find((product) => product.ean === '96385074');
    expect(ink).toMatchObject({ price: '0.0001', stock: 0 });
    expect(ink!.name).toHaveLength(500);
    expect(ink!.description).toHaveLength(10_000);
  });

  it('reports every problem of one row as its own entry with the same row number', async () => {
    const account = await ctx.createAccount();
    const csv = fileWithBadRow({ ean: '96385075', price: '1.2.3', stock: '-4', image_url: 'mailto:a@b.c' });
    const job = await ctx.importCsv(account.key, csv);
    expect(job.progress.rows_failed).toBe(1);
    const report = await reportOf(ctx, account.key, job.id);
    expect(report.map((entry) => entry.row)).toEqual([2, 2, 2, 2]);
    expect(report.map((entry) => [entry.field, entry.code]).sort()).toEqual([
      ['ean', 'INVALID_CHECK_DIGIT'],
      ['image_url', 'INVALID_URL'],
      ['price', 'INVALID_PRICE'],
      ['stock', 'INVALID_STOCK'],
    ]);
    expect(new Set(report.map((entry) => entry.ean))).toEqual(new Set(['96385075']));
  });

  it('numbers rows from 1 after the header and skips blank lines', async () => {
    const account = await ctx.createAccount();
    const csv = 'ean,name\n\n4006381333931,Pen\n\n\n96385075,Ink\n5901234123457,\n\n';
    const job = await ctx.importCsv(account.key, csv);
    expect(job.progress).toMatchObject({ rows_total: 3, rows_failed: 2 });
    const report = await reportOf(ctx, account.key, job.id);
    expect(report.map((entry) => [entry.row, entry.ean, entry.code])).toEqual([
      [2, '96385075', 'INVALID_CHECK_DIGIT'],
      [3, '5901234123457', 'REQUIRED'],
    ]);
  });

  it('reports a row with the wrong number of fields as COLUMN_COUNT', async () => {
    const account = await ctx.createAccount();
    const csv = 'ean,name,brand\n4006381333931,Pen,Acme\n96385074,Ink\n5901234123457,Paper,Acme,extra\n';
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('failed');
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 2, ean: '96385074', field: null, code: 'COLUMN_COUNT', message: 'The row has 2 fields; the header has 3.' },
      { row: 3, ean: '5901234123457', field: null, code: 'COLUMN_COUNT', message: 'The row has 4 fields; the header has 3.' },
    ]);
  });
});

describe('import stored values', () => {
  it('keeps the scale of the price and upper-cases the currency', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([
      ['ean', 'name', 'price', 'currency'],
      ['4006381333931', 'Pen', '1.50', 'eur'],
      ['96385074', 'Ink', '2', 'Usd'],
      ['5901234123457', 'Paper', '0.1000', 'JPY'],
      ['036000291452', 'Tissues', ' 3.25 ', ' gbp '],
    ]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => [product.ean, product.price, product.currency])).toEqual([
      ['036000291452', '3.25', 'GBP'],
      ['4006381333931', '1.50', 'EUR'],
      ['5901234123457', '0.1000', 'JPY'],
      ['96385074', '2', 'USD'],
    ]);
    const lookup = await ctx.get(account.key, '/v1/products/96385074');
    expect(lookup.json()).toMatchObject({ price: '2', currency: 'USD' });
  });

  it('stores empty optional cells as null and accepts every GTIN length', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([
      ['ean', 'name', 'brand', 'price', 'currency', 'stock', 'image_url'],
      ['96385074', 'Eight', '', '', '', '', ''],
      ['036000291452', 'Twelve', '', '', '', '', ''],
      ['4006381333931', 'Thirteen', '', '', '', '', ''],
      ['10614141000415', 'Fourteen', 'Acme', '', '', '12', 'https://example.com/a.png'],
    ]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.progress.rows_created).toBe(4);
    const products = await storedProducts(ctx, account.id);
    expect(products.find((product) => product.ean === '96385074')).toMatchObject({
      brand: null, price: null, currency: null, stock: null, image_url: null,
    });
    expect(products.find((product) => product.ean === '10614141000415')).toMatchObject({
      brand: 'Acme', stock: 12, image_url: 'https://example.com/a.png',
    });
  });
});

describe('import on_error', () => {
  const threeRows = toCsv([
    ['ean', 'name'],
    ['4006381333931', 'Pen'],
    ['96385075', 'Ink'],
    ['5901234123457', 'Paper'],
  ]);

  it('fails the whole import with on_error=abort (the default) when one row is invalid, writing nothing', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, threeRows);
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toBe(`1 of 3 rows failed validation; no rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(job.options).toMatchObject({ on_error: 'abort' });
    expect(job.progress).toMatchObject({ rows_total: 3, rows_failed: 1, rows_succeeded: 0, rows_created: 0 });
    expect(await storedProducts(ctx, account.id)).toEqual([]);
    expect((await ctx.get(account.key, '/v1/products/4006381333931')).statusCode).toBe(404);
  });

  it('writes the valid rows with on_error=skip and completes with rows_failed > 0', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, threeRows, { on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.error_code).toBeNull();
    expect(job.detail).toBe(
      `2 rows imported. 1 of 3 rows failed validation and were skipped. See /v1/jobs/${job.id}/errors.`,
    );
    expect(job.progress).toMatchObject({
      rows_total: 3, rows_processed: 3, rows_succeeded: 2, rows_failed: 1, rows_created: 2, rows_updated: 0,
    });
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => product.ean)).toEqual(['4006381333931', '5901234123457']);
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 2, ean: '96385075', field: 'ean', code: 'INVALID_CHECK_DIGIT', message: 'The EAN check digit is invalid.' },
    ]);
  });

  it('fails with IMPORT_FAILED under on_error=skip when no row is valid', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n96385075,Ink\n,Paper\n', { on_error: 'skip' });
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toBe(`2 of 2 rows failed validation; no rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(job.progress).toMatchObject({ rows_failed: 2, rows_created: 0 });
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('completes without a report when every row is valid', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\n96385074,Ink\n');
    expect(job.status).toBe('completed');
    expect(job.detail).toBe('2 rows imported.');
    expect(job.progress).toMatchObject({ rows_total: 2, rows_succeeded: 2, rows_failed: 0, rows_created: 2 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([]);
  });
});
