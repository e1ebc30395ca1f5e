import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ean13,
  reportOf,
  storedProducts,
  toCsv,
  untilQueueReady,
  withBadCheckDigit,
  type ReportEntry,
} from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The per-row report of an import: JSON pages, errors.csv and its round trip, and a larger file
// (API.md §4: GET /v1/jobs/{id}/errors and /errors.csv).

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** Five bad rows among valid ones; row 4 has two problems, so the report has six entries. */
const REPORTED = toCsv([
  [' EAN ', 'Name', 'price', 'currency', 'Color'],
  ['4006381333931', 'Pen', '1.50', 'EUR', 'blue'],
  ['96385075', 'Ink', '2', 'EUR', 'black'],
  ['5901234123457', '', '3', 'EUR', ''],
  ['123', 'Paper', '1.2.3', 'EUR', 'white, matte'],
  ['036000291452', 'Tissues', '4', 'EURO', 'pink'],
  ['10614141000415', 'Box', '5', 'USD', 'brown'],
  ['4006381333931', 'Pen again', '1', 'EUR', 'red'],
]);

describe('import report pages', () => {
  it('pages through the report with limit=2 in row order, each entry once', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, REPORTED, { on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_total: 7, rows_failed: 5, rows_created: 2 });

    const pages: ReportEntry[][] = [];
    let url = `/v1/jobs/${job.id}/errors?limit=2`;
    for (;;) {
      const response = await ctx.get(account.key, url);
      expect(response.statusCode).toBe(200);
      const page = response.json<{ data: ReportEntry[]; next_cursor: string | null }>();
      pages.push(page.data);
      if (page.next_cursor === null) break;
      expect(pages.length).toBeLessThan(10);
      url = `/v1/jobs/${job.id}/errors?limit=2&cursor=${encodeURIComponent(page.next_cursor)}`;
    }
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2]);
    const entries = pages.flat();
    expect(entries.map((entry) => [entry.row, entry.field, entry.code])).toEqual([
      [2, 'ean', 'INVALID_CHECK_DIGIT'],
      [3, 'name', 'REQUIRED'],
      [4, 'ean', 'INVALID_EAN'],
      [4, 'price', 'INVALID_PRICE'],
      [5, 'currency', 'INVALID_CURRENCY'],
      [7, 'ean', 'DUPLICATE_EAN'],
    ]);
    expect(entries[0]).toEqual({
      row: 2, ean: '96385075', field: 'ean', code: 'INVALID_CHECK_DIGIT', message: 'The EAN check digit is invalid.',
    });
    expect(await reportOf(ctx, account.key, job.id)).toEqual(entries);
  });

  it('answers 400 BAD_REQUEST to a cursor it did not issue and to limit=0', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, REPORTED, { on_error: 'skip' });
    const badCursor = await ctx.get(account.key, `/v1/jobs/${job.id}/errors?cursor=not-a-cursor`);
    expect(badCursor.statusCode).toBe(400);
    expect(badCursor.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(badCursor.json<{ error: string }>().error).toContain('cursor');
    const zero = await ctx.get(account.key, `/v1/jobs/${job.id}/errors?limit=0`);
    expect(zero.statusCode).toBe(400);
    expect(zero.json<{ error: string }>().error).toContain('limit');
  });

  it("answers 404 to another account's report", async () => {
    const owner = await ctx.createAccount();
    const other = await ctx.createAccount();
    const job = await ctx.importCsv(owner.key, REPORTED, { on_error: 'skip' });
    const response = await ctx.get(other.key, `/v1/jobs/${job.id}/errors`);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error_code: 'NOT_FOUND' });
    expect((await ctx.get(other.key, `/v1/jobs/${job.id}/errors.csv`)).statusCode).toBe(404);
  });
});

describe('import errors.csv', () => {
  it('gives back the failed rows with their original cells and the four error columns', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, REPORTED, { on_error: 'skip' });
    const response = await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv/);
    expect(response.headers['content-disposition']).toContain('attachment');
    const records = parse(response.body) as string[][];
    expect(records[0]).toEqual([' EAN ', 'Name', 'price', 'currency', 'Color', 'error_row', 'error_field', 'error_code', 'error_message']);
    expect(records.slice(1).map((record) => record.slice(0, 6))).toEqual([
      ['96385075', 'Ink', '2', 'EUR', 'black', '2'],
      ['5901234123457', '', '3', 'EUR', '', '3'],
      ['123', 'Paper', '1.2.3', 'EUR', 'white, matte', '4'],
      ['036000291452', 'Tissues', '4', 'EURO', 'pink', '5'],
      ['4006381333931', 'Pen again', '1', 'EUR', 'red', '7'],
    ]);
    const paper = records[3]!;
    expect(paper[6]).toContain('ean');
    expect(paper[6]).toContain('price');
    expect(paper[7]).toContain('INVALID_EAN');
    expect(paper[7]).toContain('INVALID_PRICE');
    expect(paper[8]).toContain('The price must be a decimal number');
    expect(records[5]![7]).toBe('DUPLICATE_EAN');
  });

  it('imports errors.csv re-uploaded as is once its bad cells are fixed', async () => {
    const account = await ctx.createAccount();
    const failed = await ctx.importCsv(account.key, REPORTED, { on_error: 'skip' });
    const download = await ctx.get(account.key, `/v1/jobs/${failed.id}/errors.csv`);
    const fixes: Record<string, Partial<Record<number, string>>> = {
      '96385075': { 0: '96385074' },
      '5901234123457': { 1: 'Paper pad' },
      '123': { 0: '4006381333948', 2: '1.23' },
      '036000291452': { 3: 'eur' },
      '4006381333931': { 0: '5901234123464' },
    };
    const records = parse(download.body) as string[][];
    const fixed = records.map((record, index) =>
      index === 0 ? record : record.map((cell, column) => fixes[record[0]!]?.[column] ?? cell),
    );

    const job = await ctx.importCsv(account.key, toCsv(fixed));
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_total: 5, rows_failed: 0, rows_created: 5 });
    const products = await storedProducts(ctx, account.id);
    expect(products).toHaveLength(7);
    const byEan = new Map(products.map((product) => [product.ean, product]));
    expect(byEan.get('4006381333948')).toMatchObject({ name: 'Paper', price: '1.23', attributes: { Color: 'white, matte' } });
    expect(byEan.get('036000291452')).toMatchObject({ currency: 'EUR', attributes: { Color: 'pink' } });
    expect(byEan.get('5901234123464')!.attributes).toEqual({ Color: 'red' });
  });

  it("gives the uploaded columns when the header fails, and the header's line is skipped when the file comes back", async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,title,Color\n4006381333931,Pen,red\n');
    const response = await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`);
    expect(parse(response.body)).toEqual([
      ['ean', 'title', 'Color', 'error_row', 'error_field', 'error_code', 'error_message'],
      ['', '', '', '0', '', 'MISSING_COLUMN', "The header is missing the required column 'name'."],
    ]);
    // errors.csv holds no data row of a file whose header failed: fixed, it has none to import.
    const again = await ctx.importCsv(account.key, response.body.replace('ean,title,', 'ean,name,'));
    expect(again).toMatchObject({ status: 'failed', progress: { rows_total: 0 } });
    const errors = (await ctx.get(account.key, `/v1/jobs/${again.id}/errors`)).json<{ data: Array<{ row: number; code: string }> }>();
    expect(errors.data.map(({ row, code }) => ({ row, code }))).toEqual([{ row: 1, code: 'NO_DATA_ROWS' }]);
  });

  it('lists a file-level problem in errors.csv with the uploaded header and empty cells', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n');
    const response = await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`);
    const records = parse(response.body) as string[][];
    expect(records).toEqual([
      ['ean', 'name', 'error_row', 'error_field', 'error_code', 'error_message'],
      ['', '', '1', '', 'NO_DATA_ROWS', 'The file has a header but no data rows.'],
    ]);
  });
});

describe('import of a larger file', () => {
  it('counts 5,000 rows exactly with on_error=skip: created, updated, unchanged and failed', async () => {
    const account = await ctx.createAccount();
    const seed = [['ean', 'name', 'stock']];
    for (let n = 1; n <= 1_000; n += 1) seed.push([ean13(n), `Product ${n}`, String(n)]);
    const seeded = await ctx.importCsv(account.key, toCsv(seed));
    expect(seeded.progress.rows_created).toBe(1_000);

    // Rows 1-500 as stored, 501-1000 with a new stock, 1001-5000 new; every 100th row has a bad
    // check digit and every 100th + 50 repeats the EAN of row 1.
    const rows = [['ean', 'name', 'stock']];
    const expected = { created: 0, updated: 0, unchanged: 0, failed: 0 };
    for (let n = 1; n <= 5_000; n += 1) {
      const stock = n <= 500 ? n : n + 1;
      if (n % 100 === 0) {
        rows.push([withBadCheckDigit(ean13(n)), `Product ${n}`, String(stock)]);
        expected.failed += 1;
      } else if (n % 100 === 50) {
        rows.push([ean13(1), `Product ${n}`, String(stock)]);
        expected.failed += 1;
      } else {
        rows.push([ean13(n), `Product ${n}`, String(stock)]);
        if (n > 1_000) expected.created += 1;
        else if (n > 500) expected.updated += 1;
        else expected.unchanged += 1;
      }
    }
    const job = await ctx.importCsv(account.key, toCsv(rows), { on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toEqual({
      rows_total: 5_000,
      rows_processed: 5_000,
      rows_succeeded: 5_000 - expected.failed,
      rows_failed: expected.failed,
      rows_created: expected.created,
      rows_updated: expected.updated,
      rows_unchanged: expected.unchanged,
    });
    expect(expected).toEqual({ created: 3_920, updated: 490, unchanged: 490, failed: 100 });

    const report = await reportOf(ctx, account.key, job.id, 30);
    expect(report).toHaveLength(100);
    expect(report.filter((entry) => entry.code === 'DUPLICATE_EAN')).toHaveLength(50);
    expect(report.map((entry) => entry.row)).toEqual([...report.map((entry) => entry.row)].sort((a, b) => a - b));
    const { rows: count } = await ctx.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM products WHERE account_id = $1',
      [account.id],
    );
    expect(count[0]!.n).toBe(1_000 + expected.created);
    const changed = await ctx.get(account.key, `/v1/products/${ean13(777)}`);
    expect(changed.json()).toMatchObject({ stock: 778 });
  });
});
