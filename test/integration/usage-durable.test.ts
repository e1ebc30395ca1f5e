import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// This file flushes Redis, so it runs on a redis-server of its own, never on the shared one.
let redis: PrivateRedis;
let ctx: TestContext;
let now = Date.parse('2026-05-14T10:30:20Z');

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({
    workers: false,
    clock: () => now,
    env: { REDIS_URL: redis.url, TIER_LIMITS: JSON.stringify({ FREE: { monthly: 8, per_minute: 60 } }) },
  });
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
});

describe('GET /v1/usage', () => {
  it("reports the account's tier, month, count (this request included), limits and reset", async () => {
    const { key } = await ctx.createAccount();
    await ctx.get(key, '/v1/jobs');
    const response = await ctx.get(key, '/v1/usage');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      tier: 'FREE',
      month: '2026-05',
      used: 2,
      limit: 8,
      per_minute_limit: 60,
      resets_at: '2026-06-01T00:00:00Z',
    });
  });

  it('shows an unlimited ENTERPRISE month as limit null', async () => {
    const { id, key } = await ctx.createAccount();
    await ctx.db.query("UPDATE accounts SET tier = 'ENTERPRISE' WHERE id = $1", [id]);
    expect((await ctx.get(key, '/v1/usage')).json()).toMatchObject({ tier: 'ENTERPRISE', limit: null, per_minute_limit: 6000 });
  });

  it('is refused to the operator key, which has no account', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-api-key': ADMIN_KEY } });
    expect(response.statusCode).toBe(403);
  });
});

describe('the monthly count', () => {
  it('survives FLUSHALL of Redis: the quota still ends at its limit', async () => {
    const { key } = await ctx.createAccount();
    for (let request = 0; request < 5; request += 1) expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
    expect(await ctx.redis.flushall()).toBe('OK');
    expect((await ctx.get(key, '/v1/usage')).json().used).toBe(6);
    expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
    expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
    const over = await ctx.get(key, '/v1/jobs');
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ error_code: 'QUOTA_EXCEEDED', limit: 8, tier: 'FREE' });
  });

  it('keeps the per-minute count in Redis: a flush starts the minute afresh', async () => {
    now += 60_000;
    const { key } = await ctx.createAccount();
    await ctx.get(key, '/v1/jobs');
    expect((await ctx.get(key, '/v1/jobs')).headers['x-ratelimit-remaining']).toBe('58');
    await ctx.redis.flushall();
    expect((await ctx.get(key, '/v1/jobs')).headers['x-ratelimit-remaining']).toBe('59');
  });
});
