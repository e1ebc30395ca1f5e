import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../src/workers/import/run-import.js';
import { importDeps, jobRow, productsCsv, recoveryEan } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The first load of a catalog writes its rows without looking each EAN up (nothing is stored yet).
 * If another import of the account stores one of the file's EANs meanwhile, the attempt fails and
 * the next one, against a catalog that is no longer empty, ends with the exact catalog and counts.
 * No workers run: the test calls `runImport` as the worker would.
 */

const ROWS = 12_000;
/** The product the other import stores while the first load runs. */
const RACED = 7_000;

let ctx: TestContext;

/** Waits until a statement on products waits for a lock (an uncommitted product's EAN). */
async function untilWaitingOnProducts(): Promise<void> {
  for (let polls = 0; ; polls += 1) {
    const { rows } = await ctx.db.query<{ waiting: number }>(
      `SELECT count(*)::int AS waiting FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%products%'`,
    );
    if (rows[0]!.waiting > 0) return;
    if (polls > 400) throw new Error('the first load never waited for the other import');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

type Account = Awaited<ReturnType<TestContext['createAccount']>>;

/**
 * A new account's upload of the file, not yet run: its first load. `outOfOrder` swaps its first
 * two rows: EANs that ascend from the start skip the EAN filter.
 */
async function uploadFirstLoad(outOfOrder = false): Promise<{ account: Account; jobId: string }> {
  const account = await ctx.createAccount();
  let csv = productsCsv(0, ROWS, 'New').toString();
  if (outOfOrder) {
    const [header, first, second, ...rest] = csv.split('\n');
    csv = [header, second, first, ...rest].join('\n');
  }
  const response = await ctx.upload(account.key, csv);
  expect(response.statusCode, response.body).toBe(202);
  return { account, jobId: response.json<{ id: string }>().id };
}

/**
 * After a failed attempt the job is still processing; the next attempt, against a catalog that
 * is no longer empty, updates the other import's product and creates every other row once.
 */
async function expectRetryToImportEveryRowOnce(account: Account, jobId: string): Promise<void> {
  expect((await jobRow(ctx.db, jobId)).status).toBe('processing');
  await runImport(importDeps(ctx), jobId);
  const job = await ctx.waitForJob(account.key, jobId);
  expect(job.status).toBe('completed');
  expect(job.progress).toMatchObject({ rows_total: ROWS, rows_failed: 0, rows_created: ROWS - 1, rows_updated: 1, rows_unchanged: 0 });
  const { rows } = await ctx.db.query<{ n: number; named: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE name = 'New ' || right(left(ean, 12), 9)::int)::int AS named
     FROM products WHERE account_id = $1`,
    [account.id],
  );
  expect(rows[0]).toEqual({ n: ROWS, named: ROWS });
}

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

describe('first load of a catalog', () => {
  it('when another import stores one of its EANs meanwhile, the attempt fails and the retry imports every row once', { timeout: 60_000 }, async () => {
    const { account, jobId } = await uploadFirstLoad();

    // The other import's product, inserted but not yet committed when the first load begins.
    const other = await ctx.db.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'Other')`, [account.id, recoveryEan(RACED)]);
      const attempt = runImport(importDeps(ctx), jobId).then(
        () => null,
        (error: unknown) => error,
      );
      // The first load waits on the uncommitted product's EAN; then the other import commits.
      await untilWaitingOnProducts();
      await other.query('COMMIT');
      expect(await attempt).toMatchObject({ code: '23505' });
    } finally {
      other.release();
    }
    await expectRetryToImportEveryRowOnce(account, jobId);
  });

  it('when the EAN filter checks a row whose EAN another import committed meanwhile, the attempt fails instead of reporting a repeat', { timeout: 60_000 }, async () => {
    const { account, jobId } = await uploadFirstLoad(true);

    // The other import's product (a row of the second chunk), uncommitted when the first load
    // begins; and a product of the first chunk, held uncommitted so the first load waits there.
    const other = await ctx.db.connect();
    const holder = await ctx.db.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'Other')`, [account.id, recoveryEan(RACED)]);
      await holder.query('BEGIN');
      await holder.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'Held')`, [account.id, recoveryEan(10)]);
      // A one-block filter: the second chunk's rows are all checked against products.
      const attempt = runImport({ ...importDeps(ctx), eanFilterBytes: 64 }, jobId).then(
        () => null,
        (error: unknown) => error,
      );
      await untilWaitingOnProducts();
      await other.query('COMMIT');
      await holder.query('ROLLBACK');
      expect(await attempt).toMatchObject({ message: expect.stringContaining('was stored by another import') });
    } finally {
      other.release();
      holder.release();
    }
    await expectRetryToImportEveryRowOnce(account, jobId);
  });
});
