import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../../shared/redis-connection.js';

/**
 * Reserves the next call slot toward the provider (GCRA, "generic cell rate algorithm", with no
 * burst): slots are `interval` microseconds apart, on Redis's clock, for every process that
 * shares the keys. Returns {0, ms to wait for the reserved slot}, or {1, ms left of a pause}
 * (a provider's Retry-After) without reserving anything.
 * KEYS[1] the theoretical arrival time of the next slot (µs), KEYS[2] the pause; ARGV[1] interval µs.
 */
const RESERVE_SCRIPT = `
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {1, pause} end
local interval = tonumber(ARGV[1])
if interval <= 0 then return {0, 0} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1000)
return {0, math.ceil((tat - now) / 1000)}
`;

/** Pauses every caller for ARGV[1] ms from now, unless a longer pause is already set. */
const PAUSE_SCRIPT = `
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
`;

/** The longest pause a provider's Retry-After sets (see {@link ProviderRateLimiter.pause}). */
export const MAX_PAUSE_MS = 3_600_000;

type LimiterRedis = RedisConnection & {
  enrichReserve(tatKey: string, pauseKey: string, intervalMicros: number): Promise<[number, number]>;
  enrichPause(pauseKey: string, ms: number): Promise<number>;
};

/**
 * The call rate toward the lookup provider, shared by every worker process through Redis: a
 * steady rate (ENRICH_PROVIDER_RATE_PER_MINUTE) and the provider's own pauses (429 with
 * Retry-After). BullMQ's queue limiter counts jobs, and one enrichment job makes thousands of
 * calls, so the limit is on calls: each call first takes a slot here.
 */
export class ProviderRateLimiter {
  private readonly redis: LimiterRedis;
  private readonly tatKey: string;
  private readonly pauseKey: string;
  private readonly intervalMicros: number;

  /**
   * @param keyPrefix the queue prefix (`{catalog}`): both keys share its hash tag (one Cluster slot)
   * @param ratePerMinute calls per minute for all processes together; undefined: no steady limit
   */
  constructor(redis: RedisConnection, keyPrefix: string, ratePerMinute: number | undefined) {
    this.redis = redis as LimiterRedis;
    if (!('enrichReserve' in redis)) {
      redis.defineCommand('enrichReserve', { numberOfKeys: 2, lua: RESERVE_SCRIPT });
      redis.defineCommand('enrichPause', { numberOfKeys: 1, lua: PAUSE_SCRIPT });
    }
    this.tatKey = `${keyPrefix}:enrich-provider:next-slot`;
    this.pauseKey = `${keyPrefix}:enrich-provider:pause`;
    this.intervalMicros = ratePerMinute ? Math.round(60_000_000 / ratePerMinute) : 0;
  }

  /**
   * Resolves when this process may make one call: after its reserved slot, and after any pause
   * (a pause that begins while waiting for the slot is honoured too, and the slot is then taken
   * again after it). Rejects when `signal` aborts.
   */
  async acquire(signal: AbortSignal): Promise<void> {
    for (;;) {
      const [paused, waitMs] = await this.redis.enrichReserve(this.tatKey, this.pauseKey, this.intervalMicros);
      if (waitMs > 0) await sleep(waitMs, undefined, { signal });
      else signal.throwIfAborted();
      if (paused === 1) continue;
      if (waitMs === 0) return;
      // Slept until the slot: a 429 seen elsewhere meanwhile wins over the reservation.
      if ((await this.redis.pttl(this.pauseKey)) <= 0) return;
    }
  }

  /**
   * Makes every process wait `ms` from now before its next call (a 429's Retry-After), an hour at
   * most: a Retry-After of weeks would hold the job that long (and past Node's longest timer,
   * about 24.8 days, every waiting call would spin on Redis); after an hour the call is made
   * again, and a provider still refusing answers with its next Retry-After.
   */
  async pause(ms: number): Promise<void> {
    await this.redis.enrichPause(this.pauseKey, Math.min(MAX_PAUSE_MS, Math.max(1, Math.round(ms))));
  }
}
