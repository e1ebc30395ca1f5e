import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import { createLogger } from '../../src/shared/logger.js';
import { createJobQueues, createProducerConnection, type RedisConnection } from '../../src/shared/queues.js';
import { UploadStore } from '../../src/shared/upload-store.js';
import { storedUploads } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  // Readiness is about the live connection: wait until it is up before expecting 200.
  if (ctx.redis.status !== 'ready') await once(ctx.redis, 'ready');
});
afterAll(async () => ctx?.close());

/** A local TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP proxy to Redis that a test can cut, as when Redis goes away under a running API. */
async function redisProxy(target: URL): Promise<{ url: string; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** An API on the test context's database whose Redis connection is `redis`, with its own upload folder. */
async function appWithRedis(redis: RedisConnection, redisUrl: string) {
  const config = { ...ctx.config, REDIS_URL: redisUrl };
  const queues = createJobQueues(redis, config);
  // BullMQ re-emits connection errors on the queue (and prints them when nobody listens).
  queues.queue('import').on('error', () => {});
  const dataDir = await mkdtemp(join(tmpdir(), 'catalog-test-redis-'));
  const uploads = new UploadStore(dataDir);
  const app = await buildApp({ config, db: ctx.db, redis, queues, uploads, logger: createLogger('silent') });
  return {
    app,
    /** The uploads this API keeps: files in its folder, and small ones in the test database. */
    storedUploads: () => storedUploads(ctx.db, dataDir),
    async close() {
      await app.close();
      redis.disconnect();
      await queues.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const importPen = (app: FastifyInstance, key: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/imports',
    headers: { 'x-api-key': key, 'content-type': 'text/csv' },
    payload: 'ean,name\n4006381333931,Pen\n',
  });

describe('GET /healthz', () => {
  it('answers 200 while the process runs', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });
});

describe('GET /readyz', () => {
  it('answers 200 with the checks when PostgreSQL and Redis answer', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('needs no API key', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/readyz', headers: { 'x-api-key': 'ck_wrong' } });
    expect(response.statusCode).toBe(200);
  });
});

describe('with Redis unreachable from the start', () => {
  let service: Awaited<ReturnType<typeof appWithRedis>>;

  beforeAll(async () => {
    const redisUrl = `redis://127.0.0.1:${await closedPort()}`;
    const redis = createProducerConnection(redisUrl);
    redis.on('error', () => {}); // connection refused, again and again: expected here
    service = await appWithRedis(redis, redisUrl);
  });
  afterAll(async () => service?.close());

  it('answers /readyz with 503 SERVICE_UNAVAILABLE naming Redis', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    const body = response.json();
    expect(body).toMatchObject({
      error_code: 'SERVICE_UNAVAILABLE',
      checks: { postgres: 'ok', redis: 'unavailable' },
      retry_after_seconds: 5,
    });
    expect(body.detail).toBe(body.error);
    expect(body.error).toMatch(/redis/i);
    expect(response.headers['retry-after']).toBe('5');
  });

  it('answers an import with 503 at once and leaves no job row and no stored upload', async () => {
    const account = await ctx.createAccount();
    const started = Date.now();
    const response = await importPen(service.app, account.key);
    expect(response.statusCode, response.body).toBe(503);
    expect(response.json().error_code).toBe('SERVICE_UNAVAILABLE');
    expect(response.headers['retry-after']).toBe('5');
    expect(Date.now() - started).toBeLessThan(10_000);
    const { rows } = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows).toHaveLength(0);
    expect(await service.storedUploads()).toEqual([]);
  });

  it('still serves /healthz', async () => {
    expect((await service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('with Redis going away while the API runs', () => {
  it('turns /readyz and imports into 503 and accepts nothing half', async () => {
    const proxy = await redisProxy(new URL(ctx.config.REDIS_URL));
    const redis = createProducerConnection(proxy.url);
    redis.on('error', () => {});
    const service = await appWithRedis(redis, proxy.url);
    try {
      if (redis.status !== 'ready') await once(redis, 'ready');
      const account = await ctx.createAccount();
      expect((await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      expect((await importPen(service.app, account.key)).statusCode).toBe(202);
      const uploadsBefore = await service.storedUploads();

      await proxy.cut();
      const ready = await service.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks).toEqual({ postgres: 'ok', redis: 'unavailable' });
      const refused = await importPen(service.app, account.key);
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json().error_code).toBe('SERVICE_UNAVAILABLE');
      const { rows } = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [account.id]);
      expect(rows).toHaveLength(1);
      expect(await service.storedUploads()).toEqual(uploadsBefore);
    } finally {
      await service.close();
    }
  });
});
