import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEvictionPolicy, POLICY_ANSWER_TIMEOUT_MS } from '../../src/shared/eviction-policy.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';

/** At start the service warns when Redis may evict queued jobs (issue: operators). */
let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

function warnings() {
  const lines: Array<{ fields: unknown; message: string }> = [];
  return { lines, warn: (fields: unknown, message: string) => lines.push({ fields, message }) };
}

describe('Redis eviction policy check', () => {
  it('warns, naming the policy, when Redis may evict keys', async () => {
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const logger = warnings();
    await checkEvictionPolicy(redis, logger as never);
    expect(logger.lines).toEqual([
      {
        fields: { policy: 'allkeys-lru' },
        message: "Redis maxmemory-policy is 'allkeys-lru': set it to 'noeviction' or queued jobs may be evicted",
      },
    ]);
  });

  it('gives up on a Redis that hangs after a while, so the reconciler passes that wait for it go on', async () => {
    server.freeze();
    try {
      const started = Date.now();
      await checkEvictionPolicy(redis, warnings() as never);
      expect(Date.now() - started).toBeLessThan(POLICY_ANSWER_TIMEOUT_MS + 1_000);
    } finally {
      server.thaw();
    }
  });

  it('says nothing with noeviction', async () => {
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    const logger = warnings();
    await checkEvictionPolicy(redis, logger as never);
    expect(logger.lines).toEqual([]);
  });
});
