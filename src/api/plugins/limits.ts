import type { FastifyBaseLogger } from 'fastify';
import type { RedisConnection } from '../../shared/redis-connection.js';
import type { Tier } from '../../shared/accounts/account-queries.js';
import { calendarMonth } from '../../shared/accounts/calendar-month.js';
import type { TierLimits } from '../../shared/accounts/tier-limits.js';
import type { Db } from '../../shared/db/pool.js';
import { quotaExceeded, rateLimitExceeded, serviceUnavailable } from '../errors.js';
import { addressBucket } from './address-bucket.js';
import { createUsageLedger } from './usage-ledger.js';

const MINUTE_MS = 60_000;

/**
 * Counts a hit in a fixed one-minute window and returns the window's count. INCR and the expiry are
 * one script, so concurrent API processes share the count exactly and a key never outlives its window.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

/**
 * Admits one request of an account in one round trip: counts it in the minute (as {@link HIT_SCRIPT})
 * and, when the minute allows it, in the month's usage hash unless that would pass the quota
 * (ARGV[3], -1: unlimited). Redis runs a script alone, so concurrent requests on any number of API
 * processes never pass the quota together. Returns {minute count, month count or -1 over the minute
 * or -2 over the quota, epoch}; {-1} when the month's hash must first be seeded from PostgreSQL.
 * Both keys share the deployment's hash tag, so the script runs on Redis Cluster too.
 */
const ADMIT_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0, ''} end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then return {count, -1, ''} end
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local limit = tonumber(ARGV[3])
if limit >= 0 and tonumber(redis.call('HGET', KEYS[2], 'used')) >= limit then return {count, -2, epoch} end
return {count, redis.call('HINCRBY', KEYS[2], 'used', 1), epoch}`;

/**
 * The connection with both scripts defined as commands: ioredis runs them by SHA1 (EVALSHA) and
 * sends the source once more where Redis answers NOSCRIPT (a restart, a failover, SCRIPT FLUSH).
 */
type LimitsRedis = RedisConnection & {
  limitsHit(key: string, windowMs: number): Promise<number>;
  limitsAdmit(minuteKey: string, usageKey: string, windowMs: number, perMinute: number, monthly: number): Promise<[number, number, string]>;
};

/** The per-minute state sent as X-RateLimit-Limit/Remaining/Reset. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the current window ends. */
  resetSeconds: number;
}

export interface RequestLimitsDeps {
  redis: RedisConnection;
  db: Db;
  /** How often the monthly counts are added to PostgreSQL (USAGE_FLUSH_MS). */
  usageFlushMs: number;
  /** Key prefix of this deployment (the queue prefix), so deployments sharing a Redis do not share counts. */
  keyPrefix: string;
  tierLimits: TierLimits;
  unauthenticatedPerMinute: number;
  invalidKeyPerMinute: number;
  clock: () => number;
  logger: FastifyBaseLogger;
}

/** The limits of API.md §1-2: per account (minute, month) and per client address (no key, bad keys). */
export interface RequestLimits {
  /**
   * Counts one request of an account toward its minute and its month (both in Redis; the month is
   * added to PostgreSQL about every USAGE_FLUSH_MS and re-seeded from there when Redis lost it);
   * throws 429 RATE_LIMIT_EXCEEDED or QUOTA_EXCEEDED. `report` gets the minute's state first (also
   * before a 429). When Redis cannot be reached it throws 503 SERVICE_UNAVAILABLE.
   */
  admitAccount(accountId: string, tier: Tier, report: (state: RateLimitState) => void): Promise<void>;
  /** Counts a request without a key from `address` (IPv6 by its /64); throws 429 past the per-address limit. */
  countUnauthenticated(address: string): Promise<void>;
  /** Counts an invalid key (or dashboard password) from `address` (IPv6 by its /64); throws 429 past the per-address limit. */
  countInvalidKey(address: string): Promise<void>;
  /** Requests the account made in `month` ('YYYY-MM'), counted ones not yet in PostgreSQL included. */
  usedInMonth(accountId: string, month: string): Promise<number>;
  /** Writes the counts not yet in PostgreSQL (on shutdown). */
  close(): Promise<void>;
}

/** The minute window of `now` and the seconds until it ends. */
function minuteWindow(now: number): { window: number; resetSeconds: number } {
  const window = Math.floor(now / MINUTE_MS);
  return { window, resetSeconds: Math.max(1, Math.ceil(((window + 1) * MINUTE_MS - now) / 1000)) };
}

/** Creates the {@link RequestLimits} of one API process; all processes on one Redis share the counts. */
export function createRequestLimits(deps: RequestLimitsDeps): RequestLimits {
  if (!('limitsHit' in deps.redis)) {
    deps.redis.defineCommand('limitsHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    deps.redis.defineCommand('limitsAdmit', { numberOfKeys: 2, lua: ADMIT_SCRIPT });
  }
  const redis = deps.redis as LimitsRedis;
  const usageKey = (accountId: string, month: string) => `${deps.keyPrefix}:usage:${accountId}:${month}`;
  const ledger = createUsageLedger({ redis: deps.redis, db: deps.db, usageKey, flushMs: deps.usageFlushMs, logger: deps.logger });

  /**
   * Runs `command` on Redis. Without Redis no limit can be counted, so the request is refused with
   * 503 (API.md §1) rather than let through unlimited.
   */
  const counted = async <T>(command: () => Promise<T>): Promise<T> => {
    try {
      return await command();
    } catch (error) {
      deps.logger.warn({ err: error }, 'request refused: Redis unreachable, its limits cannot be counted');
      throw serviceUnavailable();
    }
  };

  /** Counts a hit on `name` in the current minute. */
  const hit = async (name: string): Promise<{ count: number; resetSeconds: number }> => {
    const { window, resetSeconds } = minuteWindow(deps.clock());
    const count = await counted(() => redis.limitsHit(`${deps.keyPrefix}:limits:${name}:${window}`, 2 * MINUTE_MS));
    return { count: Number(count), resetSeconds };
  };

  const perAddress = async (name: string, limit: number, message: string) => {
    const state = await hit(name);
    if (state.count > limit) {
      throw rateLimitExceeded(`${message}; try again in ${state.resetSeconds} seconds.`, state.resetSeconds);
    }
  };

  /** Runs {@link ADMIT_SCRIPT}, seeding the month's hash first when Redis does not have it. */
  const admit = async (accountId: string, tier: Tier, month: string, window: number) => {
    const limits = deps.tierLimits[tier];
    const minuteKey = `${deps.keyPrefix}:limits:account:${accountId}:${window}`;
    const run = () => redis.limitsAdmit(minuteKey, usageKey(accountId, month), 2 * MINUTE_MS, limits.per_minute, limits.monthly ?? -1);
    let result = await counted(run);
    if (result[0] === -1) {
      await counted(() => ledger.seed(accountId, month));
      result = await counted(run);
    }
    const [minuteCount, used, epoch] = result;
    if (used > 0) ledger.record(accountId, month, epoch);
    return { minuteCount, used, limits };
  };

  return {
    async admitAccount(accountId, tier, report) {
      const now = deps.clock();
      const { window, resetSeconds } = minuteWindow(now);
      const { month, resetsAt } = calendarMonth(now);
      const { minuteCount, used, limits } = await admit(accountId, tier, month, window);
      report({ limit: limits.per_minute, remaining: Math.max(0, limits.per_minute - minuteCount), resetSeconds });
      if (used === -1 || minuteCount > limits.per_minute) throw rateLimitExceeded('Per-minute rate limit exceeded.', resetSeconds);
      if (used < 0) throw quotaExceeded(limits.monthly ?? 0, tier, Math.ceil((resetsAt.getTime() - now) / 1000));
    },
    countUnauthenticated: (address) =>
      perAddress(`anonymous:${addressBucket(address)}`, deps.unauthenticatedPerMinute, 'Too many unauthenticated API requests from this address'),
    countInvalidKey: (address) =>
      perAddress(`invalid-key:${addressBucket(address)}`, deps.invalidKeyPerMinute, 'Too many invalid API key attempts from this address'),
    usedInMonth: (accountId, month) => counted(() => ledger.used(accountId, month)),
    close: () => ledger.close(),
  };
}
