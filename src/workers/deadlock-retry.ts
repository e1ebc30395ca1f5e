import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { markJobQueued } from '../shared/jobs/job-queries.js';
import type { JobType } from '../shared/jobs/job-row.js';
import { delayDelivery, type JobProcessor } from './job-processor.js';

/**
 * SQLSTATEs of a transaction that PostgreSQL ended because of another's writes, not because of
 * anything wrong with the job or the database: 40P01 deadlock_detected (two transactions each
 * waiting for rows the other has locked: imports of one account writing overlapping EANs in
 * different orders, an import and an enrichment page) and 40001 serialization_failure.
 */
const WRITE_CONFLICTS: ReadonlySet<string> = new Set(['40P01', '40001']);

/**
 * How many write conflicts in a row an attempt of a job may have, each run again without using up
 * the attempt; the next one uses it up (with back-off, as any failure), and the count starts over.
 * A job that keeps losing to others' writes thus still ends, after at most this many extra runs
 * per attempt.
 */
export const MAX_FREE_CONFLICT_RUNS = 10;

/**
 * How long a conflict's victim waits before it runs again, times the conflicts so far (jittered by
 * delayDelivery): soon, and later each time, so that two jobs that keep colliding drift apart.
 */
const CONFLICT_RETRY_MS = 250;

/** The write conflict's SQLSTATE of `error` or of an error it wraps (its `cause`); undefined for any other error. */
export function writeConflictCode(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && WRITE_CONFLICTS.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Runs a job whose attempt PostgreSQL ended as the victim of a deadlock (or a serialization
 * failure) again soon, without using up an attempt: the delivery goes back to the queue delayed
 * (BullMQ's DelayedError), as one held by its account's cap does. Its transaction was rolled back,
 * so the job's row goes back to phase `queued`, with the counts of an import or export (which
 * commit all or nothing) reset: the next run starts from the beginning, an enrichment from its
 * last committed page. Wraps the run's claim and account slot, which are let go meanwhile. The
 * conflicts of an attempt are counted on the BullMQ job (see {@link MAX_FREE_CONFLICT_RUNS}).
 */
export function withConflictRetry(deps: { db: Db; logger: Logger; type: JobType }, processor: JobProcessor): JobProcessor {
  return async (context) => {
    try {
      return await processor(context);
    } catch (error) {
      const code = writeConflictCode(error);
      // A cancelled or stopping job's error is the runner's to handle, as is a delivery without a lock.
      if (!code || context.signal.aborted || !context.token) throw error;
      const { job } = context;
      // The count is of this attempt's conflicts: an attempt that failed otherwise since (and so
      // raised attemptsMade, which a conflict's delay leaves as it is) starts again from zero.
      const attempt = job.attemptsMade;
      const counted = job.data.conflictsAttempt === attempt ? (job.data.conflicts ?? 0) : 0;
      const conflicts = counted + 1;
      if (conflicts > MAX_FREE_CONFLICT_RUNS) {
        await job.updateData({ ...job.data, conflicts: 0, conflictsAttempt: attempt });
        throw error;
      }
      await job.updateData({ ...job.data, conflicts, conflictsAttempt: attempt });
      deps.logger.warn(
        { jobId: context.jobId, accountId: context.accountId, type: deps.type, code, conflicts },
        "deadlock with another job's writes; the job runs again",
      );
      await markJobQueued(deps.db, context.jobId, null, deps.type !== 'enrichment');
      return delayDelivery(context, CONFLICT_RETRY_MS * conflicts);
    }
  };
}
