import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { listProcessingJobs } from '../shared/jobs/job-queries.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { JobQueues } from '../shared/queues.js';
import { restoreExportSchedules, type RestoreSchedulesDeps } from './export/restore-schedules.js';
import { endedRunOf, failAfterAttempts } from './failed-job.js';
import type { CatchUpRunner } from './search/catch-up-runner.js';

export interface ReconcilerDeps {
  db: Db;
  queues: JobQueues;
  logger: Logger;
  /** The job schedulers of export schedules, registered again when Redis lost them. */
  scheduler: RestoreSchedulesDeps['scheduler'];
  /** Catches up product search for the accounts whose catch-up a crash or a failure left undone. */
  searchCatchUp: CatchUpRunner;
  /** Counts the jobs it fails (catalog_jobs_failed_total, catalog_job_duration_seconds). */
  metrics?: Pick<ServiceMetrics, 'jobsFailed' | 'jobDuration'> | undefined;
}

/**
 * One pass over the jobs that PostgreSQL says are `processing`:
 * - one that its BullMQ queue does not have (Redis flushed, or restarted without persistence; or
 *   accepted by an API process that stopped, or gave up, before queueing it) is queued under its
 *   own id. Safe from several processes at once and against a job being accepted right now:
 *   adding a job id that the queue already has is a no-op, and a delivery of a job that has
 *   meanwhile ended does nothing;
 * - one whose BullMQ job failed for good is failed as the worker would have failed it: its
 *   attempts ran out while PostgreSQL could not take the worker's write (an outage longer than
 *   the attempts' back-off), and nothing else would ever end the row. A retry removes the BullMQ
 *   job before it resets the row, and the failure is written only while the row is still in the
 *   run listed, so a retried job is never taken for one.
 */
async function reconcileOnce(deps: ReconcilerDeps): Promise<void> {
  const requeued: string[] = [];
  const failed: string[] = [];
  for (const job of await listProcessingJobs(deps.db)) {
    const queue = deps.queues.queue(job.type);
    const state = await queue.getJobState(job.id);
    if (state === 'failed') {
      // Removed since (aged out of the failed set): the next pass queues it again. Only the run
      // listed is failed: a retry may have replaced the BullMQ job and started the next run since.
      const bullJob = await queue.getJob(job.id);
      if (!bullJob || (bullJob.data.run ?? job.run) !== job.run) continue;
      if (await failAfterAttempts(deps.db, job.type, endedRunOf(bullJob, job.id, job.run), deps.metrics)) failed.push(job.id);
      continue;
    }
    if (state !== 'unknown') continue;
    await deps.queues.enqueue(job.type, job.id, job.run);
    requeued.push(job.id);
  }
  if (requeued.length > 0) deps.logger.warn({ jobIds: requeued }, 'jobs lost by the queue were queued again');
  if (failed.length > 0) deps.logger.warn({ jobIds: failed }, 'jobs whose attempts ran out while their failure could not be recorded were failed');
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
