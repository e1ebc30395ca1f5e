import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, storedProducts } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A file whose columns are the product columns in their documented order has its quote-free lines
// checked where they lie and copied into the import as uploaded, cut into cells only when a rule
// rejects the row. The rejected rows keep their cells in the report (errors.csv), and the stored
// products are those the values say.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const HEADER = 'ean,name,brand,category,description,price,currency,stock';
const line = (n: number, name = `Product ${n}`) => `${ean13(n)},${name},Acme,Office,Blue ink,1.50,EUR,${n}`;

/**
 * Rows before the lines a test looks at: the reader cuts the lines of its first batch (the header's)
 * before the layout is known, so only later lines take the fast lane.
 */
const FILLER = Array.from({ length: 1_500 }, (_, index) => line(100_000 + index));
const AFTER = FILLER.length;
const fileOf = (...lines: string[]) => [HEADER, ...FILLER, ...lines, ''].join('\n');

async function errorsCsv(key: string, jobId: string): Promise<string[]> {
  const response = await ctx.get(key, `/v1/jobs/${jobId}/errors.csv`);
  expect(response.statusCode).toBe(200);
  return response.body.trim().split('\n').slice(1);
}

describe('rows copied as uploaded', () => {
  for (const catalog of ['empty (a first load)', 'not empty']) {
    it(`a repeated EAN is reported with the cells of its line, and the rows are stored with their values (catalog ${catalog})`, async () => {
    const account = await ctx.createAccount();
    if (catalog === 'not empty') await ctx.importCsv(account.key, [HEADER, line(900_000)].join('\n'));
    const csv = fileOf(line(1), line(2), line(3), line(1, 'Again'), `${ean13(4)},"Quoted, name",,Office,,2,USD,0`);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_total: AFTER + 5, rows_failed: 1, rows_created: AFTER + 4 });
    expect(await errorsCsv(account.key, job.id)).toEqual([
      `${line(1, 'Again')},${AFTER + 4},ean,DUPLICATE_EAN,The EAN ${ean13(1)} already appears in row ${AFTER + 1} of this file.`,
    ]);
    const stored = (await storedProducts(ctx, account.id)).slice(0, 4);
    expect(stored.map(({ ean, name, brand, description, price, currency, stock }) => [ean, name, brand, description, price, currency, stock])).toEqual([
      [ean13(1), 'Product 1', 'Acme', 'Blue ink', '1.50', 'EUR', 1],
      [ean13(2), 'Product 2', 'Acme', 'Blue ink', '1.50', 'EUR', 2],
      [ean13(3), 'Product 3', 'Acme', 'Blue ink', '1.50', 'EUR', 3],
      [ean13(4), 'Quoted, name', null, null, '2', 'USD', 0],
    ]);
    });
  }

  it('mode=create reports an EAN the catalog has with the cells of its line', async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, [HEADER, line(2)].join('\n'));
    const job = await ctx.importCsv(account.key, fileOf(line(1), line(2, 'Other'), line(3)), { mode: 'create', on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_total: AFTER + 3, rows_failed: 1, rows_created: AFTER + 2 });
    const [entry, ...rest] = await errorsCsv(account.key, job.id);
    expect(entry).toMatch(new RegExp(`^${line(2, 'Other')},${AFTER + 2},ean,DUPLICATE_EAN,`));
    expect(rest).toEqual([]);
  });

  it('mode=update reports an EAN the catalog lacks with the cells of its line, and updates the others', async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, fileOf(line(1), line(3)));
    const job = await ctx.importCsv(account.key, fileOf(line(1, 'New 1'), line(2), line(3, 'New 3')), { mode: 'update', on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_total: AFTER + 3, rows_failed: 1, rows_updated: 2, rows_unchanged: AFTER });
    const [entry, ...rest] = await errorsCsv(account.key, job.id);
    expect(entry).toMatch(new RegExp(`^${line(2)},${AFTER + 2},ean,NOT_FOUND,`));
    expect(rest).toEqual([]);
    expect((await storedProducts(ctx, account.id)).slice(0, 2).map(({ name }) => name)).toEqual(['New 1', 'New 3']);
  });
});
