import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, productsCsv, waitFor } from '../support/recovery-support.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** A Redis of this file alone: the test flushes it. */
let redis: PrivateRedis;
let ctx: TestContext;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({
    workers: false,
    env: { REDIS_URL: redis.url, WORKER_CONCURRENCY: '2', RECONCILE_INTERVAL_MS: '1000' },
  });
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
});

const ROWS = 20_000;

describe('a job that Redis lost while a worker runs it', () => {
  it('is not run a second time beside the first: the re-queued delivery waits, and the job ends after one attempt', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, productsCsv(1, ROWS, 'Product'));
    const id = response.json<{ id: string }>().id;
    // The run is held at its first write to products until the lock goes: it stays alive, and
    // its worker renews its claim, for as long as the test needs.
    const lock = await ctx.db.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE products IN EXCLUSIVE MODE');
    const workers = ctx.startWorkers();
    try {
      await waitFor('the import to be running', async () => {
        const { rows } = await ctx.db.query<{ phase: string }>('SELECT phase FROM jobs WHERE id = $1', [id]);
        return rows[0]!.phase === 'running' ? true : undefined;
      }, 60_000, 10);
      await redis.flushAll();
      // The reconciler queues the job again; the worker has a free slot for that delivery, which
      // finds the claim held and goes back to the queue, delayed.
      await waitFor('the second delivery to be delayed', async () => ((await ctx.queues.queue('import').getJobState(id)) === 'delayed' ? true : undefined), 20_000, 20);
      await lock.query('COMMIT');

      const job = await ctx.waitForJob(account.key, id, 120_000);
      expect(job).toMatchObject({ status: 'completed', error_code: null });
      expect(job.progress).toMatchObject({ rows_total: ROWS, rows_succeeded: ROWS, rows_created: ROWS, rows_failed: 0 });
      // The run releases its claim just after it has ended the job: wait for that, not race it.
      const ended = await waitFor('the run to release its claim', async () => {
        const { rows } = await ctx.db.query<{ attempts: number; run_claimed_until: Date | null }>('SELECT attempts, run_claimed_until FROM jobs WHERE id = $1', [id]);
        return rows[0]!.run_claimed_until === null ? rows[0] : undefined;
      }, 10_000, 20);
      expect(ended).toEqual({ attempts: 1, run_claimed_until: null });
      expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(ROWS);
    } finally {
      await lock.query('ROLLBACK').catch(() => {});
      lock.release();
      await workers.close();
      ctx.workers = null;
    }
  }, 180_000);
});
