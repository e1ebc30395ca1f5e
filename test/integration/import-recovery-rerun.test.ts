import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/shared/jobs/job-queries.js';
import { runImport } from '../../src/workers/import/run-import.js';
import {
  catalogSnapshot,
  holdProduct,
  importDeps,
  jobRow,
  productsCsv,
  recoveryEan,
  stagingTablesOf,
  waitFor,
} from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Re-runs of the import runner itself (what BullMQ's at-least-once delivery amounts to): a second
 * delivery of a finished job, and a new attempt after an attempt lost its database connections
 * part-way through the file, or in its final transaction just before the commit. No workers
 * run: the tests call `runImport` as the worker would.
 */

const ROWS = 200_000;
const PRELOADED = 2_000;
/** Products 0–499 as pre-loaded, 500–1,999 renamed, 2,000 and up new. */
const FILE = productsCsv(0, ROWS, (n) => (n < 500 ? 'Old' : 'New'));
const EXPECTED = { rowsTotal: ROWS, rowsFailed: 0, rowsCreated: ROWS - PRELOADED, rowsUpdated: 1_500, rowsUnchanged: 500 };

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

/** Uploads a CSV; no worker runs, so the job waits until a test runs it. */
async function upload(key: string, csv: Buffer): Promise<string> {
  const response = await ctx.upload(key, csv);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/** An account holding the 2,000 pre-loaded products, and the id of its (queued, not run) import of FILE. */
async function accountWithFile(): Promise<{ id: string; key: string; jobId: string }> {
  const account = await ctx.createAccount();
  const preload = await runImport(importDeps(ctx), await upload(account.key, productsCsv(0, PRELOADED, 'Old')));
  expect(preload).toMatchObject({ status: 'completed', counts: { rowsCreated: PRELOADED } });
  return { ...account, jobId: await upload(account.key, FILE) };
}

/** The same file imported once, cleanly, into a fresh account: what every re-run must end with. */
let reference: Promise<{ outcome: JobOutcome | null; accountId: string; key: string; jobId: string }> | undefined;
function cleanImport() {
  reference ??= (async () => {
    const account = await accountWithFile();
    const outcome = await runImport(importDeps(ctx), account.jobId);
    return { outcome, accountId: account.id, key: account.key, jobId: account.jobId };
  })();
  return reference;
}

/**
 * After a failed attempt: its report table is gone, and the next attempt ends with the same
 * outcome and the same catalog as the clean import of the same file.
 */
async function expectRerunLikeCleanImport(accountId: string, jobId: string): Promise<void> {
  expect(await stagingTablesOf(ctx.db, jobId)).toEqual([]);
  const clean = await cleanImport();
  const rerun = await runImport(importDeps(ctx), jobId);
  expect(rerun).toEqual(clean.outcome);
  expect(await jobRow(ctx.db, jobId)).toMatchObject({ status: 'completed', attempts: 2 });
  const [mine, theirs] = [await catalogSnapshot(ctx.db, accountId), await catalogSnapshot(ctx.db, clean.accountId)];
  expect({ ...mine, lastUpdate: null }).toEqual({ ...theirs, lastUpdate: null });
  expect(await stagingTablesOf(ctx.db, jobId)).toEqual([]);
}

/**
 * Terminates the database sessions (other than this one) that are busy (active or in a
 * transaction) with a statement like `pattern` and match `extra`; returns how many.
 */
async function terminateSessions(pattern: string, extra = 'true'): Promise<number> {
  const { rows } = await ctx.db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND query ILIKE $1 AND ${extra}`,
    [pattern],
  );
  for (const { pid } of rows) await ctx.db.query('SELECT pg_terminate_backend($1)', [pid]);
  return rows.length;
}

describe('import re-runs', () => {
  it('imports the reference file cleanly', { timeout: 90_000 }, async () => {
    const { outcome, accountId } = await cleanImport();
    expect(outcome).toMatchObject({ status: 'completed', counts: EXPECTED });
    expect(await catalogSnapshot(ctx.db, accountId)).toMatchObject({ count: ROWS, distinctEans: ROWS });
  });

  it('a duplicate delivery of a completed job does nothing', { timeout: 90_000 }, async () => {
    const { accountId, jobId } = await cleanImport();
    const jobBefore = await jobRow(ctx.db, jobId);
    const catalogBefore = await catalogSnapshot(ctx.db, accountId);

    expect(await runImport(importDeps(ctx), jobId)).toBeNull();

    expect(await jobRow(ctx.db, jobId)).toEqual(jobBefore);
    expect(await catalogSnapshot(ctx.db, accountId)).toEqual(catalogBefore);
    expect(await stagingTablesOf(ctx.db, jobId)).toEqual([]);
  });

  it('an attempt that loses its database connections while reading and merging writes nothing; the re-run imports every row once', { timeout: 90_000 }, async () => {
    const account = await accountWithFile();
    const before = await catalogSnapshot(ctx.db, account.id);
    // An uncommitted product with the EAN of row 100,000 stops the attempt half-way through the
    // file: the merge of that row's chunk waits on the primary key, every chunk before it merged.
    const held = await holdProduct(ctx.db, account.id, recoveryEan(100_000));
    try {
      const attempt = runImport(importDeps(ctx), account.jobId);
      const failure = expect(attempt).rejects.toThrow();
      await waitFor('the attempt to wait half-way through the file', async () => {
        const job = await jobRow(ctx.db, account.jobId);
        if (job.status !== 'processing') throw new Error(`the attempt ended before it could be interrupted: ${job.status}`);
        return (await held.someoneWaits()) ? true : undefined;
      });
      // Both connections of the attempt: its transaction (chunks, merges) and its report COPY.
      expect(await terminateSessions('%import\\_%')).toBe(2);
      await failure;
    } finally {
      await held.release();
    }

    expect(await jobRow(ctx.db, account.jobId)).toMatchObject({ status: 'processing', attempts: 1 });
    expect(await catalogSnapshot(ctx.db, account.id)).toEqual(before);
    await expectRerunLikeCleanImport(account.id, account.jobId);
  });

  it('an attempt that dies in the final transaction, every row merged but not committed, writes nothing; the re-run imports every row once', { timeout: 90_000 }, async () => {
    const account = await accountWithFile();
    const before = await catalogSnapshot(ctx.db, account.id);
    // Holding the job row FOR KEY SHARE lets progress updates through but stops the final
    // transaction at its `SELECT … FOR UPDATE` of the job: after the last merge, before the commit.
    const blocker = await ctx.db.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM jobs WHERE id = $1 FOR KEY SHARE', [account.jobId]);
      const failure = expect(runImport(importDeps(ctx), account.jobId)).rejects.toThrow();
      await waitFor(
        'the final transaction to wait for the job row',
        async () => ((await terminateSessions('%FROM jobs%FOR UPDATE%', `wait_event_type = 'Lock'`)) > 0 ? true : undefined),
        45_000,
      );
      await failure;
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }

    const died = await jobRow(ctx.db, account.jobId);
    expect(died).toMatchObject({ status: 'processing', phase: 'finalizing', attempts: 1, rows_processed: ROWS });
    expect(await catalogSnapshot(ctx.db, account.id)).toEqual(before);
    await expectRerunLikeCleanImport(account.id, account.jobId);
  });
});
