import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { createMetrics } from '../../src/shared/metrics.js';
import { queuePrefix } from '../../src/shared/queues.js';
import type { RunningWorkers } from '../../src/workers/start-workers.js';
import { buildWorkerListener } from '../../src/workers/worker-listener.js';
import { waitFor } from '../support/recovery-support.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** A Redis of this file alone: the test stops and restarts it. */
let redis: PrivateRedis;
let ctx: TestContext;
let workerConnection: Redis;
let workers: RunningWorkers;
/** The listener of a ROLE=worker process (WORKER_PORT). */
let listener: FastifyInstance;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: redis.url, METRICS_TOKEN: 'worker-metrics-token' } });
  const logger = createLogger('silent');
  // Connection refused while the test has Redis stopped: expected here.
  ctx.redis.on('error', () => {});
  ctx.queues.queue('import').on('error', () => {});
  const metrics = createMetrics();
  workers = ctx.startWorkers();
  // The workers' own connection (BullMQ reports its errors through the workers).
  workerConnection = (await workers.workers[0]!.getBackend().client) as unknown as Redis;
  listener = buildWorkerListener({ db: ctx.db, redis: workerConnection, redisPrefix: queuePrefix(ctx.config), workers, metrics, metricsToken: ctx.config.METRICS_TOKEN, logger });
  await Promise.all(workers.workers.map((worker) => worker.waitUntilReady()));
});
afterAll(async () => {
  await listener?.close();
  await ctx?.close();
  await redis?.stop();
});

const readyz = () => listener.inject({ method: 'GET', url: '/readyz' });

describe("a worker process's readiness", () => {
  it('is ready while PostgreSQL, Redis and the blocking connection are up', async () => {
    const ready = await waitFor('the worker to be ready', async () => {
      const response = await readyz();
      return response.statusCode === 200 ? response : undefined;
    });
    expect(ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', workers: 'ok' } });
    const metrics = await listener.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer worker-metrics-token' } });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('catalog_jobs_started_total{type="import"} 0');
  });

  it('turns 503 when Redis goes away, and reconnects by itself when it is back', async () => {
    await redis.stop();
    // The two connections notice the loss each at its own moment.
    const down = await waitFor('/readyz to notice on both connections', async () => {
      const response = await readyz();
      return response.statusCode === 503 && response.json().checks.workers === 'unavailable' ? response : undefined;
    }, 15_000);
    expect(down.json()).toMatchObject({
      error_code: 'SERVICE_UNAVAILABLE',
      checks: { postgres: 'ok', redis: 'unavailable', workers: 'unavailable' },
    });

    await redis.start();
    await waitFor('the worker to be ready again', async () => {
      const response = await readyz();
      return response.statusCode === 200 ? response : undefined;
    }, 30_000);

    // The worker takes jobs again without a restart.
    const account = await waitFor('the API to reach Redis again', async () => {
      try {
        return ctx.redis.status === 'ready' ? await ctx.createAccount() : undefined;
      } catch {
        return undefined;
      }
    }, 30_000);
    const job = await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\n');
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
  }, 90_000);
});
