import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../src/workers/import/run-import.js';
import { ean13, reportOf, toCsv, type ReportEntry } from '../support/csv.js';
import { importDeps } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The same EAN more than once in one file, across chunks: the worker catches repeats in memory,
 * and once a file has more EANs than its memory budget it moves them to the database, which
 * catches the rest. Both must give the same report and catalog. No workers run: the tests call
 * `runImport` as the worker would, with a tiny budget to force the move.
 */

const ROWS = 12_000;
/** Row → the earlier row whose EAN it repeats (rows are 1-based; 5,000 rows make a chunk). */
const REPEATS = new Map([
  [101, 1], // in the first chunk, caught in memory
  [7_001, 2], // after the move, repeating a row of the first chunk
  [7_500, 7_400], // after the move, within one chunk
  [11_001, 6_000], // after the move, repeating a row of an earlier chunk
]);

function fileRows(): string[][] {
  const eans: string[] = [];
  for (let row = 1; row <= ROWS; row += 1) eans.push(REPEATS.has(row) ? eans[REPEATS.get(row)! - 1]! : ean13(row));
  return [['ean', 'name'], ...eans.map((ean, index) => [ean, `Product ${index + 1}`])];
}

const EXPECTED_REPORT: ReportEntry[] = [...REPEATS].map(([row, first]) => ({
  row,
  ean: ean13(first),
  field: 'ean',
  code: 'DUPLICATE_EAN',
  message: `The EAN ${ean13(first)} already appears in row ${first} of this file.`,
}));

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

async function importWith(seenEanSlots: number | undefined) {
  const account = await ctx.createAccount();
  const response = await ctx.upload(account.key, toCsv(fileRows()), { on_error: 'skip' });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json<{ id: string }>().id;
  await runImport({ ...importDeps(ctx), seenEanSlots }, id);
  const job = await ctx.waitForJob(account.key, id);
  const { rows } = await ctx.db.query<{ ean: string; name: string }>(
    'SELECT ean, name FROM products WHERE account_id = $1 AND ean = ANY ($2)',
    [account.id, [...REPEATS.values()].map(ean13)],
  );
  return { job, report: await reportOf(ctx, account.key, id), firsts: rows, count: await countOf(account.id) };
}

async function countOf(accountId: string): Promise<number> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM products WHERE account_id = $1', [accountId]);
  return rows[0]!.n;
}

describe('import of a file that repeats EANs across chunks', () => {
  for (const [label, slots] of [
    ['caught in memory', undefined],
    ['caught in the database once the EANs outgrow the memory budget', 64],
  ] as const) {
    it(`reports each later row as DUPLICATE_EAN naming the first row and keeps the first (${label})`, async () => {
      const { job, report, firsts, count } = await importWith(slots);
      expect(job.status).toBe('completed');
      expect(job.progress).toMatchObject({ rows_total: ROWS, rows_failed: REPEATS.size, rows_created: ROWS - REPEATS.size });
      expect(report).toEqual(EXPECTED_REPORT);
      expect(count).toBe(ROWS - REPEATS.size);
      const firstNames = Object.fromEntries([...REPEATS.values()].map((first) => [ean13(first), `Product ${first}`]));
      expect(Object.fromEntries(firsts.map(({ ean, name }) => [ean, name]))).toEqual(firstNames);
    });
  }
});
