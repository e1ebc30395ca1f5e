import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { retryAfterMs } from '../../src/workers/enrich/provider-client.js';
import { MAX_PAUSE_MS, ProviderRateLimiter } from '../../src/workers/enrich/provider-rate-limiter.js';

/**
 * A provider's Retry-After far in the future (weeks, or a date years away) pauses the lookups for
 * an hour at most, and a lookup waiting out the pause sleeps: past Node's longest timer (about
 * 24.8 days) it used to wake every millisecond and ask Redis again.
 */
let redis: Redis;
const prefix = `{provider-pause-${randomBytes(4).toString('hex')}}`;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

it("caps a far Retry-After at an hour, and a waiting lookup sleeps instead of spinning on Redis", async () => {
  const limiter = new ProviderRateLimiter(redis, prefix, undefined);
  const reserve = (redis as unknown as { enrichReserve: (...args: unknown[]) => Promise<unknown> }).enrichReserve.bind(redis);
  let reservations = 0;
  Object.assign(redis, { enrichReserve: (...args: unknown[]) => ((reservations += 1), reserve(...args)) });
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  try {
    await limiter.pause(retryAfterMs('3000000')!);
    const left = await redis.pttl(`${prefix}:enrich-provider:pause`);
    expect(left).toBeGreaterThan(MAX_PAUSE_MS - 5_000);
    expect(left).toBeLessThanOrEqual(MAX_PAUSE_MS);

    const started = Date.now();
    await expect(limiter.acquire(AbortSignal.timeout(300))).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(reservations).toBe(1);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  } finally {
    process.off('warning', onWarning);
  }
});
