import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { claimJobRun, releaseJobRun, renewJobRun } from '../shared/jobs/run-claim-queries.js';
import { endStoppedRunSessions } from '../shared/jobs/run-sessions.js';
import { delayDelivery, renewLease, type JobProcessor } from './job-processor.js';

/** How long a delivery of a job that another run holds waits before it looks again (jittered). */
const HELD_RETRY_MS = 5_000;

/**
 * Runs `processor` only for the delivery that claims the job's run in PostgreSQL (see migration
 * 015). BullMQ delivers a job once, but after Redis lost its queue the reconciler queues a job
 * that a worker still runs: that second delivery goes back to the queue, delayed, without using
 * up an attempt, until the first run has ended (the delivery then finds the job ended and does
 * nothing) or its worker has died (its claim runs out, and the delivery runs the job). The claim
 * lasts `leaseMs` and is renewed at a third of it while the run goes on; its token makes sure only
 * the run that holds it renews or releases it, and the processor's final write checks it (a run
 * whose claim was taken over commits nothing). A claim taken from a run whose lease ran out without
 * being released is a takeover: that run's worker died or stopped, and its database sessions may
 * still hold the job's locks in open transactions, the job's row among them, which the claim waits
 * for: they are ended first (see endStoppedRunSessions).
 */
export function withRunClaim(deps: { db: Db; leaseMs: number; logger: Logger }, processor: JobProcessor): JobProcessor {
  return async (context) => {
    const token = randomUUID();
    await endStoppedRun(deps, context.jobId);
    const claim = await claimJobRun(deps.db, context.jobId, token, deps.leaseMs);
    // An ended or unknown job: the processor sees it is a duplicate delivery and does nothing.
    if (claim === 'not-processing') return processor(context);
    if (claim === 'held') return delayDelivery(context, HELD_RETRY_MS);
    const tookOver = claim === 'taken-over';
    if (tookOver) deps.logger.warn({ jobId: context.jobId }, "took over a job whose previous run's claim ran out (its worker died or stopped)");
    // A run whose claim another delivery took after its lease ran out leaves that claim alone.
    const stopRenewal = renewLease(deps.leaseMs, () => renewJobRun(deps.db, context.jobId, token, deps.leaseMs));
    try {
      // On the delivery's own context, which the layers inside fill in too (its account) for its log lines.
      context.claim = { token, tookOver };
      return await processor(context);
    } finally {
      stopRenewal();
      await releaseJobRun(deps.db, context.jobId, token).catch(() => {});
    }
  };
}

/**
 * Ends the sessions still in a transaction of the job's previous run when its claim ran out
 * unreleased (see endStoppedRunSessions), logging each; a session that cannot be ended (another
 * role's) is waited for, as before.
 */
async function endStoppedRun(deps: { db: Db; logger: Logger }, jobId: string): Promise<void> {
  try {
    for (const { pid, ended } of await endStoppedRunSessions(deps.db, jobId)) {
      deps.logger.warn(
        { jobId, holderPid: pid, ended },
        "ended a database session of the job's previous run (its worker stopped) still in a transaction: it is rolled back, this run does the job again",
      );
    }
  } catch (error) {
    deps.logger.warn({ err: error, jobId }, "could not end the database sessions of the job's previous run: waiting for them to end");
  }
}
