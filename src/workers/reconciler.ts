import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { listProcessingJobs } from '../shared/jobs/job-queries.js';
import type { JobQueues } from '../shared/queues.js';
import { restoreExportSchedules, type RestoreSchedulesDeps } from './export/restore-schedules.js';
import type { CatchUpRunner } from './search/catch-up-runner.js';

export interface ReconcilerDeps {
  db: Db;
  queues: JobQueues;
  logger: Logger;
  /** The job schedulers of export schedules, registered again when Redis lost them. */
  scheduler: RestoreSchedulesDeps['scheduler'];
  /** Catches up product search for the accounts whose catch-up a crash or a failure left undone. */
  searchCatchUp: CatchUpRunner;
}

/**
 * One pass: every job that PostgreSQL says is `processing` but that its BullMQ queue does not
 * have (Redis flushed, or restarted without persistence; or accepted by an API process that
 * stopped, or gave up, before queueing it) is queued under its own id. Safe
 * from several processes at once and against a job being accepted right now: adding a job id
 * that the queue already has is a no-op, and a delivery of a job that has meanwhile ended does
 * nothing. Returns the ids re-queued.
 */
async function reconcileOnce(deps: ReconcilerDeps): Promise<string[]> {
  const requeued: string[] = [];
  for (const job of await listProcessingJobs(deps.db)) {
    const state = await deps.queues.queue(job.type).getJobState(job.id);
    if (state !== 'unknown') continue;
    await deps.queues.enqueue(job.type, job.id);
    requeued.push(job.id);
  }
  if (requeued.length > 0) deps.logger.warn({ jobIds: requeued }, 'jobs lost by the queue were queued again');
  return requeued;
}

/**
 * Runs {@link reconcileOnce} and {@link restoreExportSchedules}, and starts the product search
 * catch-ups left undone (in the background, see CatchUpRunner.catchUpBacklog), now and then every
 * `intervalMs` (one pass at a time); returns a function that stops it.
 * Each step fails on its own: lost jobs are still re-queued when the schedules cannot be read, and
 * the other way round.
 */
export function scheduleReconciler(deps: ReconcilerDeps, intervalMs: number): () => void {
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    const jobs = reconcileOnce(deps).catch((error: unknown) => deps.logger.warn({ err: error }, 'reconciler pass failed'));
    const schedules = restoreExportSchedules(deps).catch((error: unknown) =>
      deps.logger.warn({ err: error }, 'export schedule restore pass failed'),
    );
    deps.searchCatchUp.catchUpBacklog();
    void Promise.all([jobs, schedules]).finally(() => {
      running = false;
    });
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
