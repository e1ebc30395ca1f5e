import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/api/build-app.js';
import { createLogger } from '../../src/shared/logger.js';
import { createJobQueues, createProducerConnection, waitUntilReady } from '../../src/shared/queues.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// This file freezes Redis (SIGSTOP), so it runs on a redis-server of its own, never on the shared one.
let redis: PrivateRedis;
let ctx: TestContext;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '1000' } });
});
afterAll(async () => {
  redis?.thaw();
  await ctx?.close();
  await redis?.stop();
});

/** The request's answer, or a failure once it has waited `ms` (a request that hangs fails the test). */
async function within(ms: number, request: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([request, late]);
  } finally {
    clearTimeout(timer);
  }
}

it('answers 503 SERVICE_UNAVAILABLE within seconds while Redis hangs, then serves again', { timeout: 60_000 }, async () => {
  const { key } = await ctx.createAccount('hang@example.com');
  expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);

  redis.freeze();
  try {
    const requests = [
      { method: 'GET' as const, url: '/v1/jobs', headers: { 'x-api-key': key } },
      { method: 'GET' as const, url: '/v1/jobs', headers: {} },
      { method: 'POST' as const, url: '/v1/login', headers: {}, payload: { email: 'hang@example.com', password: 'not the password' } },
      { method: 'POST' as const, url: '/v1/signup', headers: {}, payload: { email: 'new@example.com', password: 'a long enough password' } },
      // The operator key is not counted: the route's own Redis command is what times out.
      { method: 'GET' as const, url: '/v1/admin/queues', headers: { authorization: `Bearer ${ADMIN_KEY}` } },
    ];
    for (const request of requests) {
      const started = Date.now();
      const response = await within(8_000, ctx.app.inject(request));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(response.statusCode, `${request.method} ${request.url}: ${response.body}`).toBe(503);
      const body = response.json();
      expect(body).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', retry_after_seconds: 5 });
      expect(body.detail).toBe(body.error);
      expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.headers['x-request-id']).toBeDefined();
    }
  } finally {
    redis.thaw();
  }

  const back = await waitFor('the API to be served again', async () => {
    const response = await ctx.get(key, '/v1/jobs');
    return response.statusCode === 200 ? response : undefined;
  }, 30_000);
  expect(back.headers['x-ratelimit-limit']).toBeDefined();
});

it('answers a key new to its address after one wait for a hung Redis, not two', { timeout: 30_000 }, async () => {
  const { key } = await ctx.createAccount('hang-new-address@example.com');
  redis.freeze();
  try {
    // The address has not seen this key: its invalid-key count is asked first, then the account's limits.
    const started = Date.now();
    const response = await within(8_000, ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-api-key': key }, remoteAddress: '127.0.0.77' }));
    const waited = Date.now() - started;
    expect(response.statusCode, response.body).toBe(503);
    expect(response.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE' });
    // REDIS_COMMAND_TIMEOUT_MS is 1000 here: one timeout, with room for a slow machine, and not two.
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(1_800);
  } finally {
    redis.thaw();
  }
});

it('does not start an API whose queues could not start because Redis hangs', { timeout: 30_000 }, async () => {
  const connection = createProducerConnection(ctx.config);
  connection.on('error', () => {});
  await waitUntilReady(connection);
  redis.freeze();
  const queues = createJobQueues(connection, ctx.config);
  const app = await buildApp({ config: ctx.config, db: ctx.apiDb, redis: connection, queues, uploads: ctx.uploads, logger: createLogger('silent') });
  try {
    const started = Date.now();
    const outcome = await app.ready().then(() => 'started', (error: Error) => error.message);
    expect(outcome).toMatch(/Command timed out/);
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    redis.thaw();
    await app.close().catch(() => {});
    await queues.close();
    connection.disconnect();
  }
});
