import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAcceptedJobsQueue } from '../../src/api/accepted-jobs-queue.js';
import { buildApp } from '../../src/api/build-app.js';
import { createLogger } from '../../src/shared/logger.js';
import { createJobQueues, createProducerConnection, type JobQueues } from '../../src/shared/queues.js';
import { UploadStore } from '../../src/shared/upload-store.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
/** The queues' Redis, which these tests make refuse writes (out of memory) or hold them (paused). */
let queueRedis: PrivateRedis;
let admin: Redis;
let queues: JobQueues;
let closeQueues: () => Promise<void>;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  queueRedis = await startPrivateRedis();
  admin = new Redis(queueRedis.url);
  const connection = createProducerConnection({ ...ctx.config, REDIS_URL: queueRedis.url });
  connection.on('error', () => {});
  if (connection.status !== 'ready') await once(connection, 'ready');
  queues = createJobQueues(connection, ctx.config);
  closeQueues = async () => {
    await queues.close();
    connection.disconnect();
  };
});
afterAll(async () => {
  await closeQueues?.();
  admin?.disconnect();
  await queueRedis?.stop();
  await ctx?.close();
});

/** The job's state in its queue: 'unknown' while it is not queued. */
const queuedState = (id: string) => queues.queue('import').getJobState(id);
/** Redis refuses every write (maxmemory of 1 byte, no eviction), or takes them again. */
const refuseWrites = (refuse: boolean) => admin.config('SET', 'maxmemory', refuse ? '1' : '0');
const logger = () => createLogger('silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** POST /v1/imports of a one-row CSV to `app`. */
const uploadPen = (app: FastifyInstance, key: string) =>
  app.inject({ method: 'POST', url: '/v1/imports', headers: { 'x-api-key': key, 'content-type': 'text/csv' }, payload: 'ean,name\n4006381333931,Pen\n' });

describe('an import accepted while Redis refuses to queue it', () => {
  it('gets its 202 once its row is committed, and is queued when Redis takes writes again', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'catalog-test-accepted-'));
    // The limits and the credentials keep the test's Redis: only the queue's refuses writes.
    const app = await buildApp({ config: ctx.config, db: ctx.db, redis: ctx.redis, queues, uploads: new UploadStore(dataDir), logger: logger() });
    try {
      const { key } = await ctx.createAccount();
      await refuseWrites(true);
      const response = await uploadPen(app, key);
      expect(response.statusCode, response.body).toBe(202);
      const { id } = response.json() as { id: string };
      const { rows } = await ctx.db.query('SELECT status, phase FROM jobs WHERE id = $1', [id]);
      expect(rows).toEqual([{ status: 'processing', phase: 'queued' }]);
      await sleep(700);
      expect(await queuedState(id)).toBe('unknown');

      await refuseWrites(false);
      await vi.waitFor(async () => expect(await queuedState(id)).toBe('waiting'), { timeout: 10_000, interval: 100 });
    } finally {
      await refuseWrites(false);
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('an import accepted while the queue\'s Redis hangs', () => {
  it('gets its 202 at once, and is queued once Redis answers again', { timeout: 30_000 }, async () => {
    // Queues of their own that have not used Redis yet: the import queue starts while Redis hangs.
    const connection = createProducerConnection({ ...ctx.config, REDIS_URL: queueRedis.url, REDIS_COMMAND_TIMEOUT_MS: 300 });
    connection.on('error', () => {});
    if (connection.status !== 'ready') await once(connection, 'ready');
    const hungQueues = createJobQueues(connection, ctx.config);
    const dataDir = await mkdtemp(join(tmpdir(), 'catalog-test-accepted-'));
    const app = await buildApp({ config: ctx.config, db: ctx.db, redis: ctx.redis, queues: hungQueues, uploads: new UploadStore(dataDir), logger: logger() });
    try {
      const { key } = await ctx.createAccount();
      queueRedis.freeze();
      let id: string;
      try {
        const started = Date.now();
        const response = await uploadPen(app, key);
        expect(response.statusCode, response.body).toBe(202);
        expect(Date.now() - started).toBeLessThan(1_000);
        id = (response.json() as { id: string }).id;
        await sleep(1_500); // the first tries time out
      } finally {
        queueRedis.thaw();
      }
      await vi.waitFor(async () => expect(await queuedState(id)).toBe('waiting'), { timeout: 15_000, interval: 100 });
    } finally {
      queueRedis.thaw();
      await app.close();
      await hungQueues.close();
      connection.disconnect();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('createAcceptedJobsQueue', () => {
  it('makes the caller wait for Redis once more than maxPending jobs wait for it', async () => {
    const accepted = createAcceptedJobsQueue(queues, logger(), { maxPending: 2 });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
    const started = Date.now();
    await accepted.queue('import', ids[0]!);
    await accepted.queue('import', ids[1]!);
    expect(Date.now() - started).toBeLessThan(300);
    await accepted.queue('import', ids[2]!);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await accepted.drain();
    expect(await Promise.all(ids.map(queuedState))).toEqual(['waiting', 'waiting', 'waiting']);
  });

  it('drain waits for the tries under way', async () => {
    const accepted = createAcceptedJobsQueue(queues, logger());
    const id = randomUUID();
    await admin.call('CLIENT', 'PAUSE', '500', 'WRITE');
    const started = Date.now();
    await accepted.queue('import', id);
    await accepted.drain();
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(await queuedState(id)).toBe('waiting');
  });

  it('after drain, leaves a job whose queueing failed to the reconciler', async () => {
    const accepted = createAcceptedJobsQueue(queues, logger(), { maxPending: 0, retryDelaysMs: [100] });
    const id = randomUUID();
    await refuseWrites(true);
    try {
      await accepted.queue('import', id); // waits for the first try, which fails
      await accepted.drain();
    } finally {
      await refuseWrites(false);
    }
    await sleep(400);
    expect(await queuedState(id)).toBe('unknown');
  });
});
