import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_CLOSE_MARGIN_MS } from '../../src/workers/start-workers.js';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { spawnWorker, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * SIGTERM ends a ROLE=worker process within SHUTDOWN_GRACE_MS and a margin even when its Workers
 * cannot close: here Redis hangs (frozen), so a Worker's blocking connection never ends.
 */
const GRACE_MS = 1_000;
let redis: PrivateRedis;
let ctx: TestContext;
let worker: WorkerChild | undefined;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: redis.url, SHUTDOWN_GRACE_MS: String(GRACE_MS) } });
  // The test freezes Redis: the context's own connection may time out meanwhile.
  ctx.redis.on('error', () => {});
  ctx.queues.queue('import').on('error', () => {});
});
afterAll(async () => {
  redis?.thaw();
  if (worker && worker.process.exitCode === null && worker.process.signalCode === null) {
    worker.process.kill('SIGKILL');
    await worker.exited;
  }
  await ctx?.close();
  await redis?.stop();
});

describe('a worker process told to stop', () => {
  it('exits within SHUTDOWN_GRACE_MS and a margin when its Workers cannot close', async () => {
    const port = await freePort();
    const child = spawnWorker({ ...ctx.env, WORKER_PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    worker = child;
    await waitFor('the worker process to be ready', async () => {
      if (child.process.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
      return response?.status === 200 ? true : undefined;
    }, 60_000, 200);

    redis.freeze();
    // Past BullMQ's longest wait for a job (drainDelay 5 s, and its 1 s allowance): the Worker's
    // loop has given up its blocking read and waits for a fetch that the frozen Redis never answers.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    const signalled = Date.now();
    child.process.kill('SIGTERM');
    const bound = GRACE_MS + WORKER_CLOSE_MARGIN_MS + 5_000;
    const outcome = await Promise.race([
      child.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), bound)),
    ]);
    expect(outcome, child.output()).toBe('exit 0');
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(GRACE_MS);
    expect(child.output()).toContain('workers did not close in time');
  }, 90_000);
});
