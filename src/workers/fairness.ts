import type { RedisConnection } from '../shared/redis-connection.js';
import type { Db } from '../shared/db/pool.js';
import { accountOfProcessingJob, markJobQueued } from '../shared/jobs/job-queries.js';
import { delayDelivery, renewLease, type JobProcessor } from './job-processor.js';

/**
 * Takes a slot of an account if it has fewer than `cap` live ones (or already holds this one);
 * slots are members of a sorted set scored by their lease's end, so a crashed worker's slot frees
 * itself. Time comes from Redis, so worker clocks need not agree.
 */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0`;

/** Per-account running-job slots shared by every worker process through Redis. */
export class AccountSlots {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    readonly cap: number,
    readonly leaseMs: number,
  ) {}

  private key(accountId: string): string {
    return `${this.prefix}:account-slots:${accountId}`;
  }

  /** Takes a slot for `jobId` of `accountId`; false when the account already runs `cap` jobs. */
  async acquire(accountId: string, jobId: string): Promise<boolean> {
    const taken = await this.redis.eval(ACQUIRE_SCRIPT, 1, this.key(accountId), this.cap, jobId, this.leaseMs);
    return taken === 1;
  }

  /** Extends the lease of a held slot (a long job keeps its slot). */
  async renew(accountId: string, jobId: string): Promise<void> {
    await this.acquire(accountId, jobId);
  }

  async release(accountId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.key(accountId), jobId);
  }
}

/** How long a job over its account's cap waits before it is tried again (jittered). */
const RETRY_DELAY_MS = 500;
/**
 * How long a job of a suspended account waits before it looks again (jittered): a suspension
 * lasts, so each held job costs one query and one move every few seconds, and a job starts within
 * about this long once its account is unsuspended.
 */
const SUSPENDED_RETRY_MS = 5_000;
/** The `detail` of a job held while its account is suspended (its phase stays `queued`). */
export const SUSPENDED_DETAIL = 'The account is suspended; the job starts once the account is unsuspended.';

/**
 * Runs `processor` only while the job's account may run it: not while the account is suspended,
 * and only with a free slot (MAX_JOBS_PER_ACCOUNT across all worker processes). A job that may
 * not run yet goes back to the queue delayed, without using up an attempt (BullMQ's
 * DelayedError), so other accounts' jobs behind it proceed. A suspended account's job stays in
 * phase `queued` with a detail saying why; a job that had started before the suspension runs on.
 */
export function withAccountSlot(deps: { db: Db; slots: AccountSlots }, processor: JobProcessor): JobProcessor {
  return async (context) => {
    const account = await accountOfProcessingJob(deps.db, context.jobId);
    // An ended or unknown job: the processor sees it is a duplicate delivery and does nothing.
    if (!account) return processor(context);
    const { accountId } = account;
    context.accountId = accountId;
    if (account.suspended) {
      await markJobQueued(deps.db, context.jobId, SUSPENDED_DETAIL);
      return delayDelivery(context, SUSPENDED_RETRY_MS);
    }
    // Unsuspended: a job that still waits for a slot no longer says it waits for the account.
    if (account.detail === SUSPENDED_DETAIL) await markJobQueued(deps.db, context.jobId);
    if (!(await deps.slots.acquire(accountId, context.jobId))) return delayDelivery(context, RETRY_DELAY_MS);
    const stopRenewal = renewLease(deps.slots.leaseMs, () => deps.slots.renew(accountId, context.jobId));
    try {
      return await processor(context);
    } finally {
      stopRenewal();
      await deps.slots.release(accountId, context.jobId).catch(() => {});
    }
  };
}
