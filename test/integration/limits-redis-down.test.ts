import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// This file stops Redis, so it runs on a redis-server of its own, never on the shared one.
const METRICS_TOKEN = 'metrics-token-of-the-test';
let redis: PrivateRedis;
let ctx: TestContext;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: redis.url, METRICS_TOKEN: METRICS_TOKEN } });
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
});

it('answers 503 SERVICE_UNAVAILABLE while Redis is unreachable (no request goes through unlimited), then serves again', { timeout: 60_000 }, async () => {
  const { key } = await ctx.createAccount();
  expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);

  await redis.stop();
  for (const headers of [{ 'x-api-key': key }, {}]) {
    const response = await ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', retry_after_seconds: expect.any(Number) });
    expect(response.json().error).toBe(response.json().detail);
  }

  await redis.start();
  const back = await waitFor('the API to reach Redis again', async () => {
    const response = await ctx.get(key, '/v1/jobs');
    return response.statusCode === 200 ? response : undefined;
  }, 30_000);
  expect(back.headers['x-ratelimit-limit']).toBeDefined();
});

it('still lets the operator key and the metrics token through while Redis is down: neither needs it', { timeout: 60_000 }, async () => {
  await redis.stop();
  try {
    const onboarded = await ctx.app.inject({
      method: 'POST',
      url: '/v1/admin/accounts',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      // An address the operator key has not been used from: its invalid-key count cannot be read.
      remoteAddress: '192.0.2.44',
      payload: { email: `redis-down-${Date.now()}@example.com` },
    });
    expect(onboarded.statusCode, onboarded.body).toBe(201);
    const metrics = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(metrics.statusCode, metrics.body).toBe(200);
  } finally {
    await redis.start();
  }
});
