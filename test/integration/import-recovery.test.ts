import { mkdir, rename, rmdir } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import {
  catalogSnapshot,
  holdProduct,
  jobRow,
  productsCsv,
  recoveryEan,
  spawnWorker,
  stagingTablesOf,
  waitFor,
  type WorkerChild,
} from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * At-least-once safety of imports with real processes, PostgreSQL and Redis: a worker killed
 * mid-import, a graceful shutdown handing a job back, and which failures are retried.
 * Short BullMQ locks so that a killed worker's job is seen as stalled within seconds.
 */
const ENV = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', SHUTDOWN_GRACE_MS: '200' };

/** Rows of the file a killed worker was importing. */
const BIG = 300_000;
/**
 * Rows of the file a graceful shutdown interrupts: a first load of a catalog reads far faster
 * than a merge into a stored one, and the attempt must still be reading a second after it began.
 */
const SHUTDOWN_ROWS = 1_200_000;

let ctx: TestContext;
const children: WorkerChild[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: ENV });
});
// A failed test must not leave its workers running into the next one.
afterEach(async () => stopWorkers());
afterAll(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await ctx?.close();
});

async function stopWorkers(): Promise<void> {
  await ctx.workers?.close();
  ctx.workers = null;
}

async function job(key: string, id: string): Promise<JobResource> {
  return (await ctx.get(key, `/v1/jobs/${id}`)).json<JobResource>();
}

/** Uploads a CSV (no worker needs to run) and returns the job id. */
async function upload(key: string, csv: Buffer | string): Promise<string> {
  const response = await ctx.upload(key, csv);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/**
 * The BullMQ job of our job `id` once it is in `state`. The job row in PostgreSQL ends first (in
 * the import's transaction); BullMQ records the attempt right after the processor returns.
 */
function bullJobIn(id: string, state: 'completed' | 'failed') {
  const queue = ctx.queues.queue('import');
  // The state first, then the job: a terminal state's job no longer changes.
  return waitFor(`BullMQ job ${id} to be ${state}`, async () =>
    (await queue.getJobState(id)) === state ? queue.getJob(id) : undefined,
  );
}

/** Waits until an attempt of the job is reading rows: phase running, progress already written. */
function untilReading(key: string, id: string) {
  return waitFor(
    `job ${id} to be reading rows`,
    async () => {
      const current = await job(key, id);
      if (current.status !== 'processing') throw new Error(`job ended before it could be interrupted: ${JSON.stringify(current)}`);
      return current.phase === 'running' && current.progress.rows_processed > 0 ? current : undefined;
    },
    45_000,
  );
}

describe('import recovery', () => {
  it('a worker process killed mid-import: the next worker imports every row exactly once', { timeout: 120_000 }, async () => {
    const account = await ctx.createAccount();
    // 2,000 products first, with in-process workers that are then stopped.
    ctx.startWorkers();
    const preload = await ctx.importCsv(account.key, productsCsv(0, 2_000, 'Old'));
    expect(preload).toMatchObject({ status: 'completed', progress: { rows_created: 2_000 } });
    await stopWorkers();
    const before = await catalogSnapshot(ctx.db, account.id);

    // Products 0–499 unchanged, 500–1,999 renamed, 2,000 and up new.
    const id = await upload(account.key, productsCsv(0, BIG, (n) => (n < 500 ? 'Old' : 'New')));
    // The attempt stops half-way through the file, at an uncommitted product with row 150,001's
    // EAN, every chunk before it merged; the worker is killed there.
    const held = await holdProduct(ctx.db, account.id, recoveryEan(BIG / 2));
    try {
      const child = spawnWorker({ ...ctx.env, ...ENV, LOG_LEVEL: 'warn' });
      children.push(child);
      await waitFor('the attempt to wait half-way through the file', async () => {
        if (child.process.exitCode !== null) throw new Error(`the worker child exited early: ${child.output()}`);
        const current = await job(account.key, id);
        if (current.status !== 'processing') throw new Error(`job ended before it could be interrupted: ${JSON.stringify(current)}`);
        return (await held.someoneWaits()) ? true : undefined;
      }, 45_000);
      child.process.kill('SIGKILL');
      expect(await child.exited).toBe('SIGKILL');
    } finally {
      await held.release();
    }

    // All-or-nothing: whatever the killed attempt merged was never committed.
    const interrupted = await jobRow(ctx.db, id);
    expect(interrupted).toMatchObject({ status: 'processing', attempts: 1 });
    expect(await catalogSnapshot(ctx.db, account.id)).toEqual(before);

    // BullMQ's stalled-job check hands the job to the in-process workers.
    ctx.startWorkers();
    const done = await ctx.waitForJob(account.key, id, 90_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.progress).toEqual({
      rows_total: BIG,
      rows_processed: BIG,
      rows_succeeded: BIG,
      rows_failed: 0,
      rows_created: BIG - 2_000,
      rows_updated: 1_500,
      rows_unchanged: 500,
    });
    const after = await catalogSnapshot(ctx.db, account.id);
    expect(after.count).toBe(BIG);
    expect(after.distinctEans).toBe(BIG);
    const { rows: names } = await ctx.db.query<{ label: string; count: number }>(
      `SELECT split_part(name, ' ', 1) AS label, count(*)::int AS count FROM products WHERE account_id = $1
       GROUP BY 1 ORDER BY 1`,
      [account.id],
    );
    expect(names).toEqual([
      { label: 'New', count: BIG - 500 },
      { label: 'Old', count: 500 },
    ]);
    expect((await jobRow(ctx.db, id)).attempts).toBeGreaterThanOrEqual(2);
    expect(await stagingTablesOf(ctx.db, id)).toEqual([]);
    await stopWorkers();
  });

  it('a graceful shutdown hands the active job back to the queue without using up an attempt', { timeout: 90_000 }, async () => {
    const account = await ctx.createAccount();
    ctx.startWorkers();
    const id = await upload(account.key, productsCsv(0, SHUTDOWN_ROWS, 'Shutdown'));
    await untilReading(account.key, id);
    // SHUTDOWN_GRACE_MS is 200: far less than the reading left, so the attempt is cancelled.
    await stopWorkers();

    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing', phase: 'queued', attempts: 1 });
    const queued = (await ctx.queues.queue('import').getJob(id))!;
    expect(await queued.getState()).toBe('delayed');
    expect(queued.attemptsMade).toBe(0);
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(0);
    expect(await stagingTablesOf(ctx.db, id)).toEqual([]);

    ctx.startWorkers();
    const done = await ctx.waitForJob(account.key, id, 60_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.progress).toMatchObject({ rows_total: SHUTDOWN_ROWS, rows_failed: 0, rows_created: SHUTDOWN_ROWS, rows_updated: 0, rows_unchanged: 0 });
    expect(await catalogSnapshot(ctx.db, account.id)).toMatchObject({ count: SHUTDOWN_ROWS, distinctEans: SHUTDOWN_ROWS });
    expect((await jobRow(ctx.db, id)).attempts).toBe(2);
    const completed = await bullJobIn(id, 'completed');
    // Only the attempt that completed counts against JOB_ATTEMPTS.
    expect(completed.attemptsMade).toBe(1);
    await stopWorkers();
  });

  it('a data error fails the job after exactly one attempt', async () => {
    const account = await ctx.createAccount();
    ctx.startWorkers();
    const csv = Buffer.concat([productsCsv(0, 100, 'Valid'), Buffer.from('2100000000001,Bad check digit,,1.00,EUR,1\n')]);
    const id = await upload(account.key, csv);
    const failed = await ctx.waitForJob(account.key, id);
    expect(failed).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED', progress: { rows_total: 101, rows_failed: 1 } });
    const queued = await bullJobIn(id, 'failed');
    expect(queued.attemptsMade).toBe(1);
    expect((await jobRow(ctx.db, id)).attempts).toBe(1);
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(0);
    await stopWorkers();
  });

  it('an I/O error is retried after a back-off, and the retry imports every row once', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const id = await upload(account.key, productsCsv(0, 3_000, 'Retried'));
    // Over 64 KiB, so a file in the data folder. The stored upload is unreadable for the first
    // attempt (a folder in its place: EISDIR), then back. A missing upload (ENOENT) would not be
    // retried: see import-missing-upload.test.ts.
    const stored = ctx.uploads.absolute((await jobRow(ctx.db, id)).input_path!);
    await rename(stored, `${stored}.away`);
    await mkdir(stored);
    ctx.startWorkers();
    const first = await waitFor('the first attempt to fail', async () => {
      const bull = (await ctx.queues.queue('import').getJob(id))!;
      return bull.attemptsMade === 1 && (await bull.getState()) === 'delayed' ? bull : undefined;
    });
    expect(first.failedReason).toBe('The file storage is unavailable; try again shortly.');
    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing', attempts: 1 });
    expect(await stagingTablesOf(ctx.db, id)).toEqual([]);
    await rmdir(stored);
    await rename(`${stored}.away`, stored);

    const done = await ctx.waitForJob(account.key, id, 30_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.progress).toMatchObject({ rows_total: 3_000, rows_created: 3_000, rows_updated: 0, rows_unchanged: 0 });
    expect(await catalogSnapshot(ctx.db, account.id)).toMatchObject({ count: 3_000, distinctEans: 3_000 });
    expect((await jobRow(ctx.db, id)).attempts).toBe(2);
    const second = await bullJobIn(id, 'completed');
    expect(second.attemptsMade).toBe(2);
    // JOB_ATTEMPTS back-off: exponential from 2 s.
    expect(second.processedOn! - first.processedOn!).toBeGreaterThanOrEqual(1_900);
    await stopWorkers();
  });
});
