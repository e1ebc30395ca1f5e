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
    env: { REDIS_URL: redis.url, WORKER_CONCURRENCY: '1', RECONCILE_INTERVAL_MS: '1000', MAX_JOBS_PER_ACCOUNT: '4' },
  });
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
});

const ROWS = 40_000;

async function startImports(key: string, count: number, firstEan: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n += 1) {
    const response = await ctx.upload(key, productsCsv(firstEan + n * ROWS, ROWS, `Product ${n}`));
    expect(response.statusCode, response.body).toBe(202);
    ids.push(response.json<{ id: string }>().id);
  }
  return ids;
}

describe('the reconciler, after Redis lost the queue', () => {
  it('re-queues jobs still processing at start, and they complete with exact counts', async () => {
    const account = await ctx.createAccount();
    const ids = await startImports(account.key, 2, 1);
    await redis.flushAll();
    expect(await ctx.queues.queue('import').getJobState(ids[0]!)).toBe('unknown');

    const workers = ctx.startWorkers();
    try {
      for (const id of ids) {
        const job = await ctx.waitForJob(account.key, id, 60_000);
        expect(job).toMatchObject({ status: 'completed', error_code: null });
        expect(job.progress).toMatchObject({ rows_total: ROWS, rows_succeeded: ROWS, rows_created: ROWS, rows_failed: 0 });
      }
      expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(2 * ROWS);
    } finally {
      await workers.close();
      ctx.workers = null;
    }
  }, 120_000);

  it('re-queues waiting and active jobs after a FLUSHALL mid-run; all end with exact counts', async () => {
    const account = await ctx.createAccount();
    const ids = await startImports(account.key, 4, 1_000_000);
    const workers = ctx.startWorkers();
    try {
      // One import is running, the other three wait in Redis.
      await waitFor('an import to be running', async () => {
        const { rows } = await ctx.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND phase = 'running'`,
          [ids],
        );
        return rows[0]!.n > 0 ? true : undefined;
      }, 60_000, 10);
      const counts = await ctx.queues.queue('import').getJobCounts('waiting', 'active');
      expect(counts.active).toBe(1);
      expect(counts.waiting).toBeGreaterThanOrEqual(1);

      await redis.flushAll();

      for (const id of ids) {
        const job = await ctx.waitForJob(account.key, id, 90_000);
        expect(job).toMatchObject({ status: 'completed', error_code: null });
        expect(job.progress).toMatchObject({
          rows_total: ROWS, rows_processed: ROWS, rows_succeeded: ROWS, rows_created: ROWS, rows_updated: 0, rows_failed: 0,
        });
      }
      const catalog = await catalogSnapshot(ctx.db, account.id);
      expect(catalog.count).toBe(4 * ROWS);
      expect(catalog.distinctEans).toBe(4 * ROWS);
    } finally {
      await workers.close();
      ctx.workers = null;
    }
  }, 180_000);
});
