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

const ROWS = 300_000;

describe('a job that Redis lost while a worker runs it', () => {
  it('is not run a second time beside the first: the re-queued delivery waits, and the job ends after one attempt', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, productsCsv(1, ROWS, 'Product'));
    const id = response.json<{ id: string }>().id;
    const workers = ctx.startWorkers();
    try {
      await waitFor('the import to be running', async () => {
        const { rows } = await ctx.db.query<{ rows_processed: number }>('SELECT rows_processed FROM jobs WHERE id = $1', [id]);
        return rows[0]!.rows_processed > 0 ? true : undefined;
      }, 60_000, 10);
      await redis.flushAll();
      // The reconciler queues the job again at once; the worker has a free slot to take it.
      await waitFor('the job to be queued again', async () => ((await ctx.queues.queue('import').getJobState(id)) !== 'unknown' ? true : undefined), 10_000, 20);

      const job = await ctx.waitForJob(account.key, id, 120_000);
      expect(job).toMatchObject({ status: 'completed', error_code: null });
      expect(job.progress).toMatchObject({ rows_total: ROWS, rows_succeeded: ROWS, rows_created: ROWS, rows_failed: 0 });
      const { rows } = await ctx.db.query<{ attempts: number; run_claimed_until: Date | null }>('SELECT attempts, run_claimed_until FROM jobs WHERE id = $1', [id]);
      expect(rows[0]).toEqual({ attempts: 1, run_claimed_until: null });
      expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(ROWS);
    } finally {
      await workers.close();
      ctx.workers = null;
    }
  }, 180_000);
});
