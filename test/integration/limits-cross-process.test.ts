import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import { credentialChannel } from '../../src/shared/accounts/credential-changes.js';
import type { Config } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { createProducerConnection, waitUntilReady } from '../../src/shared/queues.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';
import { recordResponses } from '../support/response-conformance.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// Two API processes (the context's app, "A", and one more, "B") share one database and one Redis.
// This file flushes and restarts Redis, so it runs on a redis-server of its own.
let redis: PrivateRedis;
let ctx: TestContext;
let b: Instance;
let now = Date.parse('2026-05-14T10:30:20Z');
const clock = () => now;

interface Instance {
  app: FastifyInstance;
  redis: Redis;
  close(): Promise<void>;
}

/** Another API process on the context's database and Redis; its responses are checked against the OpenAPI document. */
async function startInstance(overrides: Partial<Config> = {}): Promise<Instance> {
  const connection = createProducerConnection(ctx.config.REDIS_URL);
  await waitUntilReady(connection);
  const app = await buildApp({
    config: { ...ctx.config, ...overrides }, db: ctx.db, redis: connection, queues: ctx.queues, uploads: ctx.uploads,
    logger: createLogger('silent'), clock,
  });
  const responses = recordResponses(app);
  return {
    app,
    redis: connection,
    async close() {
      await app.close();
      connection.disconnect();
      expect(await responses.problems()).toEqual([]);
    },
  };
}

/** Waits until `count` API processes listen for credential changes (before that they cache nothing). */
async function subscribers(count: number): Promise<void> {
  await waitFor(`${count} credential-change subscribers`, async () => {
    const [, listening] = (await ctx.redis.pubsub('NUMSUB', credentialChannel(ctx.config))) as [string, number];
    return Number(listening) >= count ? true : undefined;
  }, 10_000);
}

const get = (app: FastifyInstance, key: string, url = '/v1/jobs') => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
const asAdmin = (method: 'POST' | 'PATCH', url: string, payload?: object) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_KEY}` }, payload });

/** Polls `probe` on B for at most a second (the promise of API.md §2 for every API process). */
const withinASecond = (what: string, probe: () => Promise<boolean>) =>
  waitFor(what, async () => ((await probe()) ? true : undefined), 1_000, 20);

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({
    workers: false,
    clock,
    env: {
      REDIS_URL: redis.url,
      // Long enough that only an announced change, never the expiry, can make B drop an entry in time.
      AUTH_CACHE_TTL_MS: '60000',
      TIER_LIMITS: JSON.stringify({ FREE: { monthly: 50, per_minute: 10_000 }, PRO: { monthly: 1_000, per_minute: 10_000 } }),
    },
  });
  b = await startInstance();
  await subscribers(2);
});
afterAll(async () => {
  await b?.close();
  await ctx?.close();
  await redis?.stop();
});

describe('credential changes on one API process', () => {
  it('refuse a key revoked on A at once on A and within a second on B, though both had it cached', async () => {
    const { key } = await ctx.createAccount();
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': key }, payload: { name: 'second' } });
    const second = created.json<{ id: string; key: string }>();
    expect((await get(b.app, second.key)).statusCode).toBe(200);
    expect((await get(ctx.app, second.key)).statusCode).toBe(200);
    const revoked = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${second.id}`, headers: { 'x-api-key': key } });
    expect(revoked.statusCode).toBe(204);
    expect((await get(ctx.app, second.key)).json()).toMatchObject({ error_code: 'INVALID_API_KEY' });
    await withinASecond('B to refuse the revoked key', async () => (await get(b.app, second.key)).statusCode === 401);
    expect((await get(b.app, second.key)).json()).toMatchObject({ error_code: 'INVALID_API_KEY' });
    expect((await get(b.app, key)).statusCode).toBe(200);
  });

  it('suspend and unsuspend the account on B within a second', async () => {
    const { id, key } = await ctx.createAccount();
    expect((await get(b.app, key)).statusCode).toBe(200);
    expect((await asAdmin('POST', `/v1/admin/accounts/${id}/suspend`)).statusCode).toBe(200);
    await withinASecond('B to refuse the suspended account', async () => (await get(b.app, key)).statusCode === 403);
    expect((await get(b.app, key)).json()).toMatchObject({ error_code: 'ACCOUNT_SUSPENDED' });
    expect((await asAdmin('POST', `/v1/admin/accounts/${id}/unsuspend`)).statusCode).toBe(200);
    await withinASecond('B to serve the account again', async () => (await get(b.app, key)).statusCode === 200);
  });

  it("apply a tier change to B's limits within a second", async () => {
    const { id, key } = await ctx.createAccount();
    expect((await get(b.app, key, '/v1/usage')).json()).toMatchObject({ tier: 'FREE', limit: 50 });
    expect((await asAdmin('PATCH', `/v1/admin/accounts/${id}`, { tier: 'PRO' })).statusCode).toBe(200);
    await withinASecond('B to count the account as PRO', async () => (await get(b.app, key, '/v1/usage')).json().limit === 1_000);
  });

  it('are never missed: B drops its cache when its subscription is cut, so even an unannounced change applies', async () => {
    const { id, key } = await ctx.createAccount();
    expect((await get(b.app, key)).statusCode).toBe(200);
    await ctx.redis.client('KILL', 'TYPE', 'pubsub');
    // A change made behind the API's back: no process announces it.
    await ctx.db.query('UPDATE accounts SET suspended = true WHERE id = $1', [id]);
    await withinASecond('B to read the account again', async () => (await get(b.app, key)).statusCode === 403);
    await subscribers(2);
  });

  it('refuse a cached key on B from the moment it expires', async () => {
    const { key } = await ctx.createAccount();
    const created = await ctx.app.inject({
      method: 'POST', url: '/v1/keys', headers: { 'x-api-key': key }, payload: { name: 'short', expires_at: '2026-05-14T11:30:00Z' },
    });
    const short = created.json<{ key: string }>().key;
    expect((await get(b.app, short)).statusCode).toBe(200);
    const start = now;
    now = Date.parse('2026-05-14T11:30:00Z');
    try {
      expect((await get(b.app, short)).json()).toMatchObject({ error_code: 'API_KEY_EXPIRED' });
    } finally {
      now = start;
    }
  });
});

describe('the monthly quota across API processes', () => {
  it('lets exactly the quota through when 200 requests race on two processes, and counts it durably', async () => {
    const { id, key } = await ctx.createAccount();
    const responses = await Promise.all(Array.from({ length: 200 }, (_, index) => get(index % 2 ? b.app : ctx.app, key)));
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 200)).toHaveLength(50);
    const refused = responses.filter((response) => response.statusCode !== 200);
    expect(refused).toHaveLength(150);
    for (const response of refused) expect(response.json()).toMatchObject({ error_code: 'QUOTA_EXCEEDED', limit: 50 });
    await waitFor('50 requests in usage_counters', async () => {
      const { rows } = await ctx.db.query('SELECT used FROM usage_counters WHERE account_id = $1', [id]);
      return rows[0]?.used === 50 ? true : undefined;
    }, 10_000);
  });

  for (const loss of ['FLUSHALL', 'a restart'] as const) {
    it(`keeps every count of both processes through ${loss} of Redis, also those not yet in PostgreSQL`, async () => {
      // Processes that write to PostgreSQL only when they close: every count is still in memory when Redis loses it.
      const first = await startInstance({ USAGE_FLUSH_MS: 10_000 });
      const second = await startInstance({ USAGE_FLUSH_MS: 10_000 });
      const { id, key } = await ctx.createAccount();
      for (let request = 0; request < 3; request += 1) expect((await get(first.app, key)).statusCode).toBe(200);
      for (let request = 0; request < 2; request += 1) expect((await get(second.app, key)).statusCode).toBe(200);
      if (loss === 'FLUSHALL') await redis.flushAll();
      else {
        await redis.stop();
        await redis.start();
        await waitFor('both processes back on Redis', async () => (first.redis.status === 'ready' && second.redis.status === 'ready' ? true : undefined), 30_000);
      }
      expect((await get(first.app, key, '/v1/usage')).json().used).toBe(4);
      await second.close();
      expect((await get(first.app, key, '/v1/usage')).json().used).toBe(7);
      await first.close();
      const { rows } = await ctx.db.query('SELECT used FROM usage_counters WHERE account_id = $1', [id]);
      expect(rows[0].used).toBe(7);
      expect((await get(b.app, key, '/v1/usage')).json().used).toBe(8);
    });
  }
});
