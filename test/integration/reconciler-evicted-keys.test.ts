import { PassThrough } from 'node:stream';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/shared/logger.js';
import { createWorkerConnection, queuePrefix, QUEUE_NAMES, type QueuedJob } from '../../src/shared/queues.js';
import type { JobType } from '../../src/shared/jobs/job-row.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor, withWorkers } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Redis under `maxmemory` with an evicting policy drops single keys of BullMQ's: a job's hash, or
 * a whole list. Each test deletes exactly the keys such an eviction drops, on a Redis of this file
 * alone (it also changes that Redis's eviction policy), and expects the job to run all the same.
 */
let server: PrivateRedis;
let raw: Redis;
let ctx: TestContext;
let logged = '';

/** The log lines written since `from`, parsed. */
const logLinesSince = (from: number) =>
  logged
    .slice(from)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string; jobIds?: string[]; jobId?: string; policy?: string });

beforeAll(async () => {
  server = await startPrivateRedis();
  raw = new Redis(server.url);
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  ctx = await createTestContext({
    workers: false,
    env: { REDIS_URL: server.url, RECONCILE_INTERVAL_MS: '1000', WORKER_LOCK_DURATION_MS: '2000' },
    logger: pino(loggerOptions('info'), sink),
  });
});
afterAll(async () => {
  await ctx?.close();
  raw?.disconnect();
  await server?.stop();
});

/** The Redis key of BullMQ's `suffix` (a job id, or a list's name) in the queue of `type`. */
const keyOf = (type: JobType, suffix: string) => `${queuePrefix(ctx.config)}:${QUEUE_NAMES[type]}:${suffix}`;

/** Resolves once BullMQ says job `id` of `type` is in `state`. */
const untilState = (type: JobType, id: string, state: string) =>
  waitFor(`job ${id} to be ${state}`, async () => ((await ctx.queues.queue(type).getJobState(id)) === state ? true : undefined), 10_000, 20);

/** Uploads a two-product import; resolves with its id once it waits in its queue. */
async function queuedImport(key: string): Promise<string> {
  const response = await ctx.upload(key, 'ean,name\n4006381333931,Ballpoint pen\n4006381333948,Pencil\n');
  expect(response.statusCode, response.body).toBe(202);
  const { id } = response.json<{ id: string }>();
  await untilState('import', id, 'waiting');
  return id;
}


/** Lets a BullMQ worker other than the service's take the one waiting import, and end it as `end` says, without touching its row. */
async function deliverElsewhere(end: () => Promise<void>): Promise<void> {
  const connection = createWorkerConnection(ctx.config);
  const worker = new Worker<QueuedJob>(QUEUE_NAMES.import, end, { connection, prefix: queuePrefix(ctx.config), autorun: false });
  const ended = new Promise((resolve) => {
    worker.on('completed', resolve);
    worker.on('failed', resolve);
  });
  void worker.run();
  await ended;
  await worker.close();
  connection.disconnect();
}

describe('jobs whose BullMQ keys Redis evicted', () => {
  it('runs an import whose job hash was evicted while its id waited, and says so', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    await raw.del(keyOf('import', id));
    const from = logged.length;

    const job = await withWorkers(ctx, () => ctx.waitForJob(account.key, id, 20_000));
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2, rows_failed: 0 } });
    expect(logLinesSince(from)).toContainEqual(
      expect.objectContaining({ jobId: id, msg: 'a queued job had lost its data in Redis (evicted?): it was queued again' }),
    );
  });

  it('runs an export whose job hash was kept but whose wait list was evicted, and says what it did', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const started = await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers: { 'x-api-key': account.key }, payload: { format: 'csv' } });
    expect(started.statusCode, started.body).toBe(202);
    const { id } = started.json<{ id: string }>();
    await untilState('export', id, 'waiting');
    await raw.del(keyOf('export', 'wait'));
    expect(await ctx.queues.queue('export').getJobState(id)).toBe('unknown');
    const from = logged.length;

    const job = await withWorkers(ctx, () => ctx.waitForJob(account.key, id, 20_000));
    expect(job).toMatchObject({ status: 'completed', error_code: null });
    const lines = logLinesSince(from);
    expect(lines).toContainEqual(
      expect.objectContaining({ jobIds: [id], msg: 'jobs whose queue entry Redis had partly lost were queued again' }),
    );
    expect(lines.filter((line) => line.msg === 'jobs lost by the queue were queued again')).toEqual([]);
  });

  it('queues again a job BullMQ completed without running it once no run has held it for a while, never while one does', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    // A delivery that ended without running the job: BullMQ says completed, the row `processing`.
    await deliverElsewhere(async () => {});
    expect(await ctx.queues.queue('import').getJobState(id)).toBe('completed');
    // A run of the job holds its claim (its worker lost its BullMQ job, not the job).
    await ctx.db.query(`UPDATE jobs SET run_claimed_until = now() + interval '1 hour' WHERE id = $1`, [id]);

    await withWorkers(ctx, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(await ctx.queues.queue('import').getJobState(id)).toBe('completed');
      expect((await ctx.get(account.key, `/v1/jobs/${id}`)).json()).toMatchObject({ status: 'processing' });

      // That run's worker died: its claim runs out, and the job is queued again and runs.
      await ctx.db.query(`UPDATE jobs SET run_claimed_until = now() - interval '1 second' WHERE id = $1`, [id]);
      const job = await ctx.waitForJob(account.key, id, 20_000);
      expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    });
  });

  it('queues again a job whose BullMQ job failed in an earlier run, in the run its row is in', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    await deliverElsewhere(async () => {
      throw new UnrecoverableError('an earlier run');
    });
    expect(await ctx.queues.queue('import').getJobState(id)).toBe('failed');
    await ctx.db.query('UPDATE jobs SET run_number = 2 WHERE id = $1', [id]);

    const job = await withWorkers(ctx, () => ctx.waitForJob(account.key, id, 20_000));
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    expect((await ctx.queues.queue('import').getJob(id))?.data).toEqual({ jobId: id, run: 2 });
  });
});

describe("Redis's eviction policy", () => {
  it('is checked on every reconciler pass, not only at start', { timeout: 30_000 }, async () => {
    await withWorkers(ctx, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await raw.config('SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        const from = logged.length;
        await waitFor('the policy warning', async () =>
          logLinesSince(from).find((line) => line.policy === 'allkeys-lru'), 10_000, 50);
      } finally {
        await raw.config('SET', 'maxmemory-policy', 'noeviction');
      }
    });
  });
});
