import type { FastifyBaseLogger } from 'fastify';
import type { RedisConnection } from '../../shared/redis-connection.js';
import type { Tier } from '../../shared/accounts/account-queries.js';
import { calendarMonth } from '../../shared/accounts/calendar-month.js';
import type { TierLimits } from '../../shared/accounts/tier-limits.js';
import type { Db } from '../../shared/db/pool.js';
import {
  INVALID_KEY_ATTEMPTS,
  PER_MINUTE_EXCEEDED,
  UNAUTHENTICATED_REQUESTS,
  perAddressMessage,
  quotaExceeded,
  rateLimitExceeded,
  serviceUnavailable,
} from '../errors.js';
import { addressBucket } from './address-bucket.js';
import { createUsageLedger } from './usage-ledger.js';
import { turnBatch } from '../../shared/turn-batch.js';

const MINUTE_MS = 60_000;
/** The most requests one admission script run counts, so one run never holds Redis long. */
const ADMIT_BATCH = 64;
/** Accounts whose last admission {@link RequestLimits.hadRoom} remembers. */
const ROOM_ENTRIES = 10_000;

/**
 * Counts a hit in a fixed one-minute window and returns the window's count. INCR and the expiry are
 * one script, so concurrent API processes share the count exactly and a key never outlives its window.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

/**
 * Admits a batch of requests in one round trip. Its entries are the accounts (and minutes) of the
 * batch: entry i takes the keys KEYS[2i-1] (the account's minute) and KEYS[2i] (its month's usage
 * hash) and the arguments ARGV[3i-2] (the minute key's lifetime), ARGV[3i-1] (the monthly quota,
 * -1: unlimited) and ARGV[3i] (how many of the batch's requests are the account's). It counts them all in the minute and, as far as the quota allows, in
 * the month (API.md §2: every authenticated request counts toward both, one the minute refuses
 * too; one the quota refuses is not counted). Redis runs a script alone, so concurrent requests on any number
 * of API processes never pass a limit together. Each entry gets {minute count after it, month
 * count after it, epoch, requests counted in the month}; {-1} when the month's hash must first be
 * seeded from PostgreSQL. All keys share the deployment's hash tag, so the script runs on Redis
 * Cluster too.
 */
const ADMIT_SCRIPT = `
local results = {}
for i = 1, #KEYS / 2 do
  local minuteKey, usageKey = KEYS[2 * i - 1], KEYS[2 * i]
  local usage = redis.call('HMGET', usageKey, 'used', 'epoch')
  if not usage[1] then
    results[i] = {-1, 0, '', 0}
  else
    local requests = tonumber(ARGV[3 * i])
    local count = redis.call('INCRBY', minuteKey, requests)
    if count == requests then redis.call('PEXPIRE', minuteKey, ARGV[3 * i - 2]) end
    local counted = requests
    local used = tonumber(usage[1])
    local quota = tonumber(ARGV[3 * i - 1])
    if quota >= 0 then counted = math.min(counted, quota - used) end
    if counted > 0 then used = redis.call('HINCRBY', usageKey, 'used', counted) else counted = 0 end
    -- A nil would end the reply's array there: an epoch is always set with the count, but be safe.
    results[i] = {count, used, usage[2] or '', counted}
  end
end
return results`;

/**
 * The connection with both scripts defined as commands: ioredis runs them by SHA1 (EVALSHA) and
 * sends the source once more where Redis answers NOSCRIPT (a restart, a failover, SCRIPT FLUSH).
 */
type LimitsRedis = RedisConnection & {
  limitsHit(key: string, windowMs: number): Promise<number>;
  /** {@link ADMIT_SCRIPT}: the number of keys, the keys, then the arguments. */
  limitsAdmit(...args: (string | number)[]): Promise<EntryResult[]>;
};

/** What {@link ADMIT_SCRIPT} answers for one entry: minute count, month count, epoch, requests counted in the month. */
type EntryResult = [number, number, string, number];

/** What one request's admission comes to: minute count, month count (-2 over the quota: not counted), epoch. */
type AdmitResult = [number, number, string];

/** One request to admit: its keys and its quota (the minute's limit is applied to the count afterwards). */
interface Admission {
  minuteKey: string;
  usageKey: string;
  /** -1: unlimited. */
  monthly: number;
}

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
  /** Counts an invalid key (dashboard password, metrics token) from `address` (IPv6 by its /64); throws 429 past the per-address limit. */
  countInvalidKey(address: string): Promise<void>;
  /**
   * Throws the 429 of {@link countInvalidKey} when `address` has used up its invalid-key attempts
   * of the current minute, so that a credential is not checked at all. A read: counts nothing.
   */
  checkInvalidKey(address: string): Promise<void>;
  /** Whether the account's last admission on this process let its request through (false before its first). */
  hadRoom(accountId: string): boolean;
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

/** The requests of one account, minute and limits in an admission batch. */
interface Entry {
  admission: Admission;
  requests: number;
}

/** The batch's requests grouped into entries; `places` holds each request's entry and its position in it. */
function byAccount(batch: readonly Admission[]): { entries: Entry[]; places: Array<[number, number]> } {
  const entries: Entry[] = [];
  const indexes = new Map<string, number>();
  const places = batch.map((admission): [number, number] => {
    // The minute key names the account and its minute, and so its month's usage key too.
    const key = `${admission.minuteKey} ${admission.monthly}`;
    let index = indexes.get(key);
    if (index === undefined) {
      index = entries.push({ admission, requests: 0 }) - 1;
      indexes.set(key, index);
    }
    return [index, entries[index]!.requests++];
  });
  return { entries, places };
}

/**
 * The admission of the request at `position` (from 0) of its entry: the requests of an entry are
 * counted in order, so it is over the minute or the quota exactly when a lone request in its
 * place would have been. Its month count is -2 when the quota refused it (and it was not counted).
 */
function requestResult([count, used, epoch, counted]: EntryResult, { requests }: Entry, position: number): AdmitResult {
  if (count === -1) return [-1, 0, ''];
  const minuteCount = count - requests + 1 + position;
  if (position >= counted) return [minuteCount, -2, epoch];
  return [minuteCount, used - counted + 1 + position, epoch];
}

/** Creates the {@link RequestLimits} of one API process; all processes on one Redis share the counts. */
export function createRequestLimits(deps: RequestLimitsDeps): RequestLimits {
  if (!('limitsHit' in deps.redis)) {
    deps.redis.defineCommand('limitsHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    deps.redis.defineCommand('limitsAdmit', { lua: ADMIT_SCRIPT });
  }
  const redis = deps.redis as LimitsRedis;
  const usageKey = (accountId: string, month: string) => `${deps.keyPrefix}:usage:${accountId}:${month}`;
  const ledger = createUsageLedger({ redis: deps.redis, db: deps.db, usageKey, flushMs: deps.usageFlushMs, logger: deps.logger });

  /**
   * Runs `command` on Redis. Without Redis no limit can be counted, so the request is refused with
   * 503 (API.md §1) rather than let through unlimited. A Redis that hangs fails the command after
   * REDIS_COMMAND_TIMEOUT_MS; Redis may still run it once it answers again, so a request refused
   * that way can count in its minute and in Redis's month (never in PostgreSQL's): an over-count
   * at worst, as when a connection is lost after the command was sent.
   */
  const counted = async <T>(command: () => Promise<T>): Promise<T> => {
    try {
      return await command();
    } catch (error) {
      deps.logger.warn({ err: error }, 'request refused: Redis unreachable, its limits cannot be counted');
      throw serviceUnavailable();
    }
  };

  const windowKey = (name: string, window: number) => `${deps.keyPrefix}:limits:${name}:${window}`;

  /** Counts a hit on `name` in the current minute (`increment` 0: reads the count only). */
  const hit = async (name: string, increment = 1): Promise<{ count: number; resetSeconds: number }> => {
    const { window, resetSeconds } = minuteWindow(deps.clock());
    const key = windowKey(name, window);
    const count = await counted<number | string | null>(() => (increment ? redis.limitsHit(key, 2 * MINUTE_MS) : redis.get(key)));
    return { count: Number(count ?? 0), resetSeconds };
  };

  /** Throws 429 once `name` counts more than `limit` in the minute, counting this one unless `increment` is 0. */
  const perAddress = async (name: string, limit: number, message: string, increment = 1) => {
    const state = await hit(name, increment);
    if (state.count + 1 - increment > limit) {
      throw rateLimitExceeded(perAddressMessage(message, state.resetSeconds), state.resetSeconds);
    }
  };
  const invalidKeys = (address: string, increment: number) =>
    perAddress(`invalid-key:${addressBucket(address)}`, deps.invalidKeyPerMinute, INVALID_KEY_ATTEMPTS, increment);

  /**
   * Admits every request asked for in one turn of the event loop with one script run, so a busy
   * process makes one round trip to Redis for many requests instead of one each; the requests of
   * one account are one entry of the script, counted together.
   */
  const admissions = turnBatch<Admission, AdmitResult>(async (batch) => {
    const { entries, places } = byAccount(batch);
    const keys = entries.flatMap(({ admission }) => [admission.minuteKey, admission.usageKey]);
    const args = entries.flatMap(({ admission, requests }) => [2 * MINUTE_MS, admission.monthly, requests]);
    const results = await redis.limitsAdmit(keys.length, ...keys, ...args);
    return places.map(([entry, position]) => requestResult(results[entry]!, entries[entry]!, position));
  }, ADMIT_BATCH);

  /** Runs {@link ADMIT_SCRIPT}, seeding the month's hash first when Redis does not have it. */
  const admit = async (accountId: string, tier: Tier, month: string, window: number) => {
    const limits = deps.tierLimits[tier];
    const admission: Admission = {
      minuteKey: windowKey(`account:${accountId}`, window),
      usageKey: usageKey(accountId, month),
      monthly: limits.monthly ?? -1,
    };
    let result = await counted(() => admissions.load(admission));
    if (result[0] === -1) {
      await counted(() => ledger.seed(accountId, month));
      result = await counted(() => admissions.load(admission));
    }
    const [minuteCount, used, epoch] = result;
    if (used > 0) ledger.record(accountId, month, epoch);
    return { minuteCount, used, limits };
  };

  /** Whether each account's last admission let its request through; dropped whole past {@link ROOM_ENTRIES}. */
  const room = new Map<string, boolean>();
  const noteRoom = (accountId: string, admitted: boolean) => {
    if (room.size >= ROOM_ENTRIES && !room.has(accountId)) room.clear();
    room.set(accountId, admitted);
  };

  return {
    async admitAccount(accountId, tier, report) {
      const now = deps.clock();
      const { window, resetSeconds } = minuteWindow(now);
      const { month, resetsAt } = calendarMonth(now);
      const { minuteCount, used, limits } = await admit(accountId, tier, month, window);
      noteRoom(accountId, used > 0 && minuteCount <= limits.per_minute);
      report({ limit: limits.per_minute, remaining: Math.max(0, limits.per_minute - minuteCount), resetSeconds });
      if (minuteCount > limits.per_minute) throw rateLimitExceeded(PER_MINUTE_EXCEEDED, resetSeconds);
      if (used < 0) throw quotaExceeded(limits.monthly ?? 0, tier, Math.ceil((resetsAt.getTime() - now) / 1000));
    },
    countUnauthenticated: (address) =>
      perAddress(`anonymous:${addressBucket(address)}`, deps.unauthenticatedPerMinute, UNAUTHENTICATED_REQUESTS),
    countInvalidKey: (address) => invalidKeys(address, 1),
    checkInvalidKey: (address) => invalidKeys(address, 0),
    hadRoom: (accountId) => room.get(accountId) === true,
    usedInMonth: (accountId, month) => counted(() => ledger.used(accountId, month)),
    close: () => ledger.close(),
  };
}
