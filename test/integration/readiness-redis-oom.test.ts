import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A Redis at `maxmemory` under `noeviction` answers PING but refuses every write, so every request
 * that counts a limit or queues a job fails: readiness must say so. On a Redis of this file alone,
 * whose memory limit the test changes.
 */
let server: PrivateRedis;
let raw: Redis;
let ctx: TestContext;

beforeAll(async () => {
  server = await startPrivateRedis();
  raw = new Redis(server.url);
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: server.url } });
  if (ctx.redis.status !== 'ready') await once(ctx.redis, 'ready');
});
afterAll(async () => {
  await raw?.config('SET', 'maxmemory', '0');
  await ctx?.close();
  raw?.disconnect();
  await server?.stop();
});

const readyz = () => ctx.app.inject({ method: 'GET', url: '/readyz' });

describe('GET /readyz with Redis out of memory', () => {
  it('answers 503 naming Redis out of memory while it refuses writes, and 200 again once it takes them', async () => {
    expect((await readyz()).statusCode).toBe(200);

    // Below the memory Redis already uses: every write is refused from now on.
    await raw.config('SET', 'maxmemory', '1');
    try {
      const refused = await readyz();
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.json()).toMatchObject({
        error: 'Not ready: redis out of memory (it refuses every write).',
        error_code: 'SERVICE_UNAVAILABLE',
        checks: { postgres: 'ok', redis: 'unavailable' },
        retry_after_seconds: 5,
      });
    } finally {
      await raw.config('SET', 'maxmemory', '0');
    }
    const ready = await readyz();
    expect(ready.statusCode, ready.body).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });
});
