import { randomUUID } from 'node:crypto';
import { DelayedError } from 'bullmq';
import type { Db } from '../shared/db/pool.js';
import { claimJobRun, releaseJobRun, renewJobRun } from '../shared/jobs/run-claim-queries.js';
import type { JobProcessor } from './job-processor.js';

/** How long a delivery of a job that another run holds waits before it looks again (jittered). */
const HELD_RETRY_MS = 5_000;

/**
 * Runs `processor` only for the delivery that claims the job's run in PostgreSQL (see migration
 * 015). BullMQ delivers a job once, but after Redis lost its queue the reconciler queues a job
 * that a worker still runs: that second delivery goes back to the queue, delayed, without using
 * up an attempt, until the first run has ended (the delivery then finds the job ended and does
 * nothing) or its worker has died (its claim runs out, and the delivery runs the job). The claim
 * lasts `leaseMs` and is renewed at a third of it while the run goes on; its token makes sure only
 * the run that holds it renews or releases it.
 */
export function withRunClaim(deps: { db: Db; leaseMs: number }, processor: JobProcessor): JobProcessor {
  return async (context) => {
    const token = randomUUID();
    const claim = await claimJobRun(deps.db, context.jobId, token, deps.leaseMs);
    // An ended or unknown job: the processor sees it is a duplicate delivery and does nothing.
    if (claim === 'not-processing') return processor(context);
    if (claim === 'held') {
      if (!context.token) throw new Error('a delivery without a lock token cannot be delayed');
      await context.job.moveToDelayed(Date.now() + HELD_RETRY_MS + Math.floor(Math.random() * HELD_RETRY_MS), context.token);
      throw new DelayedError();
    }
    // A renewal that fails (PostgreSQL away for a moment) is tried again at the next tick; a run
    // whose claim another delivery took after its lease ran out leaves that claim alone.
    const renewal = setInterval(() => {
      renewJobRun(deps.db, context.jobId, token, deps.leaseMs).catch(() => {});
    }, Math.max(1_000, Math.floor(deps.leaseMs / 3)));
    try {
      return await processor(context);
    } finally {
      clearInterval(renewal);
      await releaseJobRun(deps.db, context.jobId, token).catch(() => {});
    }
  };
}
