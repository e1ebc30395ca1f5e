import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Tier } from '../../shared/accounts/account-queries.js';
import { calendarMonth } from '../../shared/accounts/calendar-month.js';
import type { TierLimits } from '../../shared/accounts/tier-limits.js';
import { countRequest } from '../../shared/accounts/usage-queries.js';
import type { Db } from '../../shared/db/pool.js';
import { quotaExceeded, rateLimitExceeded, serviceUnavailable } from '../../shared/errors.js';
import { addressBucket } from './address-bucket.js';

const MINUTE_MS = 60_000;

/**
 * Counts a hit in a fixed one-minute window and returns the window's count. INCR and the expiry are
 * one script, so concurrent API processes share the count exactly and a key never outlives its window.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

/** The per-minute state sent as X-RateLimit-Limit/Remaining/Reset. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the current window ends. */
  resetSeconds: number;
}

export interface RequestLimitsDeps {
  redis: Redis;
  db: Db;
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
   * Counts one request of an account toward its minute (Redis) and its month (PostgreSQL, durable);
   * throws 429 RATE_LIMIT_EXCEEDED or QUOTA_EXCEEDED. `report` gets the minute's state first (also
   * before a 429). When Redis cannot be reached it throws 503 SERVICE_UNAVAILABLE.
   */
  admitAccount(accountId: string, tier: Tier, report: (state: RateLimitState) => void): Promise<void>;
  /** Counts a request without a key from `address` (IPv6 by its /64); throws 429 past the per-address limit. */
  countUnauthenticated(address: string): Promise<void>;
  /** Counts an invalid key (or dashboard password) from `address` (IPv6 by its /64); throws 429 past the per-address limit. */
  countInvalidKey(address: string): Promise<void>;
}

/** Creates the {@link RequestLimits} of one API process; all processes on one Redis share the counts. */
export function createRequestLimits(deps: RequestLimitsDeps): RequestLimits {
  /**
   * Counts a hit on `name` in the current minute. Without Redis no limit can be counted, so the
   * request is refused with 503 (API.md §1) rather than let through unlimited.
   */
  const hit = async (name: string): Promise<{ count: number; resetSeconds: number }> => {
    const now = deps.clock();
    const window = Math.floor(now / MINUTE_MS);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * MINUTE_MS - now) / 1000));
    try {
      const count = await deps.redis.eval(HIT_SCRIPT, 1, `${deps.keyPrefix}:limits:${name}:${window}`, 2 * MINUTE_MS);
      return { count: Number(count), resetSeconds };
    } catch (error) {
      deps.logger.warn({ err: error }, 'request refused: Redis unreachable, its limits cannot be counted');
      throw serviceUnavailable();
    }
  };

  const perAddress = async (name: string, limit: number, message: string) => {
    const state = await hit(name);
    if (state.count > limit) {
      throw rateLimitExceeded(`${message}; try again in ${state.resetSeconds} seconds.`, state.resetSeconds);
    }
  };

  return {
    async admitAccount(accountId, tier, report) {
      const limits = deps.tierLimits[tier];
      const minute = await hit(`account:${accountId}`);
      report({
        limit: limits.per_minute,
        remaining: Math.max(0, limits.per_minute - minute.count),
        resetSeconds: minute.resetSeconds,
      });
      if (minute.count > limits.per_minute) throw rateLimitExceeded('Per-minute rate limit exceeded.', minute.resetSeconds);
      const now = deps.clock();
      const { month, resetsAt } = calendarMonth(now);
      const used = await countRequest(deps.db, accountId, month, limits.monthly);
      if (used === null) throw quotaExceeded(limits.monthly ?? 0, tier, Math.ceil((resetsAt.getTime() - now) / 1000));
    },
    countUnauthenticated: (address) =>
      perAddress(`anonymous:${addressBucket(address)}`, deps.unauthenticatedPerMinute, 'Too many unauthenticated API requests from this address'),
    countInvalidKey: (address) =>
      perAddress(`invalid-key:${addressBucket(address)}`, deps.invalidKeyPerMinute, 'Too many invalid API key attempts from this address'),
  };
}
