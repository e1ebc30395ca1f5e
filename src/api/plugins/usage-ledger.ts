import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import { addRequestCounts, requestsInMonth, type RequestCount } from '../../shared/accounts/usage-queries.js';
import type { Db } from '../../shared/db/pool.js';

/** A month's usage hash outlives its month by days, whenever in the month it was seeded. */
const USAGE_KEY_TTL_MS = 40 * 24 * 3600_000;

/** Creates the month's usage hash from the durable count unless another process did first. */
const SEED_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'used', ARGV[1], 'epoch', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * Adds counts that were made on an earlier copy of the hash (before Redis lost it and another
 * process seeded it again from PostgreSQL, which did not have them yet) to the current copy.
 */
const CATCH_UP_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch and epoch ~= ARGV[1] then redis.call('HINCRBY', KEYS[1], 'used', ARGV[2]) end
return 0`;

export interface UsageLedgerDeps {
  redis: Redis | Cluster;
  db: Db;
  /** Key of an account's month: all keys of the deployment share its hash tag. */
  usageKey: (accountId: string, month: string) => string;
  flushMs: number;
  logger: FastifyBaseLogger;
}

/**
 * The monthly counts of one API process. Admission counts in a Redis hash per account and month
 * (`used`, and `epoch`: which seeding made it); this process keeps what it counted in memory and
 * adds it to PostgreSQL's `usage_counters` every `flushMs` (and on close). When Redis lost the hash
 * (restart, flush), it is seeded again from PostgreSQL plus this process's unflushed counts; other
 * processes add their unflushed counts of the older epoch to it when they flush. So Redis restarts
 * lose nothing; a crash of this process loses at most its last `flushMs` of counts.
 */
export interface UsageLedger {
  /** Notes one request admitted on the hash of `epoch`. */
  record(accountId: string, month: string, epoch: string): void;
  /** Creates the hash of the account's month from the durable count if it does not exist. */
  seed(accountId: string, month: string): Promise<void>;
  /** The month's count: the Redis hash when present, else the durable count plus unflushed counts. */
  used(accountId: string, month: string): Promise<number>;
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
}

const slot = (accountId: string, month: string, epoch: string) => `${accountId} ${month} ${epoch}`;

/** Creates the {@link UsageLedger} and starts its flush timer. */
export function createUsageLedger(deps: UsageLedgerDeps): UsageLedger {
  let pending = new Map<string, number>();
  let flushing: Promise<void> | null = null;

  const unflushed = (accountId: string, month: string) => {
    let total = 0;
    for (const [key, count] of pending) if (key.startsWith(`${accountId} ${month} `)) total += count;
    return total;
  };
  const retag = (accountId: string, month: string, epoch: string) => {
    const count = unflushed(accountId, month);
    for (const key of pending.keys()) if (key.startsWith(`${accountId} ${month} `)) pending.delete(key);
    if (count > 0) pending.set(slot(accountId, month, epoch), count);
  };

  const writeOut = async (batch: Map<string, number>) => {
    const perMonth = new Map<string, RequestCount>();
    for (const [key, count] of batch) {
      const [accountId, month] = key.split(' ') as [string, string];
      const row = perMonth.get(`${accountId} ${month}`) ?? { accountId, month, count: 0 };
      row.count += count;
      perMonth.set(`${accountId} ${month}`, row);
    }
    try {
      await addRequestCounts(deps.db, [...perMonth.values()]);
    } catch (error) {
      for (const [key, count] of batch) pending.set(key, (pending.get(key) ?? 0) + count);
      deps.logger.warn({ err: error }, 'usage counts not written to PostgreSQL; kept for the next flush');
      return;
    }
    const catchUp = deps.redis.pipeline();
    for (const [key, count] of batch) {
      const [accountId, month, epoch] = key.split(' ') as [string, string, string];
      catchUp.eval(CATCH_UP_SCRIPT, 1, deps.usageKey(accountId, month), epoch, count);
    }
    await catchUp.exec().catch((error: unknown) => deps.logger.warn({ err: error }, 'usage counts not caught up in Redis'));
  };

  const flush = async () => {
    if (flushing) return flushing;
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    flushing = writeOut(batch).finally(() => {
      flushing = null;
    });
    return flushing;
  };
  const timer = setInterval(() => void flush(), deps.flushMs);
  timer.unref();

  return {
    record(accountId, month, epoch) {
      const key = slot(accountId, month, epoch);
      pending.set(key, (pending.get(key) ?? 0) + 1);
    },
    async seed(accountId, month) {
      const epoch = randomUUID();
      const durable = await requestsInMonth(deps.db, accountId, month);
      const seeded = await deps.redis.eval(
        SEED_SCRIPT, 1, deps.usageKey(accountId, month), durable + unflushed(accountId, month), epoch, USAGE_KEY_TTL_MS,
      );
      // This process's unflushed counts are in the new hash now: their flush must not add them again.
      if (Number(seeded) === 1) retag(accountId, month, epoch);
    },
    async used(accountId, month) {
      const used = await deps.redis.hget(deps.usageKey(accountId, month), 'used');
      if (used !== null) return Number(used);
      return (await requestsInMonth(deps.db, accountId, month)) + unflushed(accountId, month);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flushing;
      await flush();
    },
  };
}
