import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../src/workers/import/run-import.js';
import { ean13, reportOf, toCsv, type ReportEntry } from '../support/csv.js';
import { importDeps } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The same EAN more than once in one file, across chunks. A first load (empty catalog) keeps a
 * filter of the file's EANs and checks the rows it may have seen against products. Any other
 * import catches repeats in memory, and once a file has more EANs than its memory budget it moves
 * them to a seen table in the database. All must give the same report and catalog. No workers
 * run: the tests call `runImport` as the worker would, with a tiny budget to force the move, and
 * a one-block filter to make it say "maybe seen" of nearly every row.
 */

const ROWS = 12_000;
/** Row → the earlier row whose EAN it repeats (rows are 1-based; 5,000 rows make a chunk). */
const REPEATS = new Map([
  [101, 1], // in the first chunk, caught in memory
  [7_001, 2], // after the move, repeating a row of the first chunk
  [7_500, 7_400], // after the move, within one chunk
  [11_001, 6_000], // after the move, repeating a row of an earlier chunk
]);

/** A row with no name, in abort-mode tests: the import fails, and its report still lists every repeat. */
const INVALID_ROW = 6_500;

function fileRows(withInvalidRow = false): string[][] {
  const eans: string[] = [];
  for (let row = 1; row <= ROWS; row += 1) eans.push(REPEATS.has(row) ? eans[REPEATS.get(row)! - 1]! : ean13(row));
  return [
    ['ean', 'name'],
    ...eans.map((ean, index) => [ean, withInvalidRow && index + 1 === INVALID_ROW ? '' : `Product ${index + 1}`]),
  ];
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

/** Another EAN the account has before the import, when the test wants a catalog that is not empty. */
const STORED_EAN = ean13(900_000);

interface Budget {
  seenEanSlots?: number;
  eanFilterBytes?: number;
  /** The account already has a product: not a first load. */
  storedBefore?: boolean;
  onError?: 'skip' | 'abort';
}

async function importWith(budget: Budget) {
  const account = await ctx.createAccount();
  if (budget.storedBefore) {
    await ctx.db.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'Stored before')`, [account.id, STORED_EAN]);
  }
  const onError = budget.onError ?? 'skip';
  const response = await ctx.upload(account.key, toCsv(fileRows(onError === 'abort')), { on_error: onError });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json<{ id: string }>().id;
  await runImport({ ...importDeps(ctx), seenEanSlots: budget.seenEanSlots, eanFilterBytes: budget.eanFilterBytes }, id);
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
  const budgets: Array<[string, Budget]> = [
    ['a first load, with the EAN filter', {}],
    ['a first load, with a filter that says "maybe seen" of nearly every row', { eanFilterBytes: 64 }],
    ['a first load, its seen log past the memory budget and moved to the database', { seenEanSlots: 64 }],
    ['a first load, the log moved and the filter saying "maybe seen" of nearly every row', { seenEanSlots: 64, eanFilterBytes: 64 }],
    ['a catalog that is not empty, caught in memory', { storedBefore: true }],
    ['a catalog that is not empty, past the memory budget, with the seen table', { seenEanSlots: 64, storedBefore: true }],
  ];
  for (const [label, budget] of budgets) {
    it(`reports each later row as DUPLICATE_EAN naming the first row and keeps the first (${label})`, async () => {
      const { job, report, firsts, count } = await importWith(budget);
      expect(job.status).toBe('completed');
      expect(job.progress).toMatchObject({ rows_total: ROWS, rows_failed: REPEATS.size, rows_created: ROWS - REPEATS.size });
      expect(report).toEqual(EXPECTED_REPORT);
      expect(count).toBe(ROWS - REPEATS.size + (budget.storedBefore ? 1 : 0));
      const firstNames = Object.fromEntries([...REPEATS.values()].map((first) => [ean13(first), `Product ${first}`]));
      expect(Object.fromEntries(firsts.map(({ ean, name }) => [ean, name]))).toEqual(firstNames);
    });
  }

  it('a first load with on_error=abort fails with nothing written and still reports every repeat', async () => {
    const { job, report, count } = await importWith({ eanFilterBytes: 64, onError: 'abort' });
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.progress).toMatchObject({ rows_total: ROWS, rows_failed: REPEATS.size + 1, rows_created: 0 });
    const invalid = { row: INVALID_ROW, ean: ean13(INVALID_ROW), field: 'name', code: 'REQUIRED', message: 'The name field is required.' };
    expect(report).toEqual([EXPECTED_REPORT[0], invalid, ...EXPECTED_REPORT.slice(1)]);
    expect(count).toBe(0);
  });
});
