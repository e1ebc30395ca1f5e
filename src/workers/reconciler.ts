import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { checkEvictionPolicy } from '../shared/eviction-policy.js';
import { listProcessingJobs } from '../shared/jobs/job-queries.js';
import type { JobType } from '../shared/jobs/job-row.js';
import { processingRunOf } from '../shared/jobs/run-claim-queries.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { JobQueues, QueuedJob, RedisConnection } from '../shared/queues.js';
import { restoreExportSchedules, type RestoreSchedulesDeps } from './export/restore-schedules.js';
import { endedRunOf, failAfterAttempts } from './failed-job.js';
import { lostItsData, replaceQueuedJob } from './lost-jobs.js';
import { restoreQueuePauses } from './queue-pauses.js';
import type { CatchUpRunner } from './search/catch-up-runner.js';

export interface ReconcilerDeps {
  db: Db;
  queues: JobQueues;
  /** Asked for its `maxmemory-policy` on every pass: a policy that evicts loses queued jobs. */
  redis: RedisConnection;
  logger: Logger;
  /**
   * How long a BullMQ job that ended without ending its `processing` job, and the job's run claim,
   * must have been let go of before the job is queued again (WORKER_LOCK_DURATION_MS, a claim's lease).
   */
  graceMs: number;
  /** The job schedulers of export schedules, registered again when Redis lost them. */
  scheduler: RestoreSchedulesDeps['scheduler'];
  /** Catches up product search for the accounts whose catch-up a crash or a failure left undone. */
  searchCatchUp: CatchUpRunner;
  /** Counts the jobs it fails (catalog_jobs_failed_total, catalog_job_duration_seconds). */
  metrics?: Pick<ServiceMetrics, 'jobsFailed' | 'jobDuration'> | undefined;
}

/** A job that PostgreSQL lists as `processing`, in the run it was listed in. */
type ProcessingJob = { id: string; type: JobType; run: number };

/**
 * Queues again `job`, whose BullMQ job ended (`ended`: what BullMQ keeps of it; undefined when
 * Redis lost its hash and only the id is left in the completed or failed set) without ending the
 * job: a delivery that lost its data whose worker stopped before queueing it again, a failure of
 * an earlier run, a key Redis lost. Only once nothing can still end the row: BullMQ let go of it
 * `graceMs` ago or more (a worker writes a failure just after BullMQ records it), and the row, read
 * again now (the list is older than BullMQ's answer), is still `processing` in the run listed,
 * with no run holding its claim, or having held it within `graceMs` (a run still going ends the
 * row itself). Otherwise left to a later pass. True when it was queued again.
 */
async function requeueUnendedRow(deps: ReconcilerDeps, job: ProcessingJob, ended: Job<QueuedJob> | undefined): Promise<boolean> {
  if (ended?.finishedOn !== undefined && Date.now() - ended.finishedOn < deps.graceMs) return false;
  const row = await processingRunOf(deps.db, job.id, deps.graceMs);
  if (!row || row.run !== job.run || row.claimedWithinGrace) return false;
  return replaceQueuedJob(deps.queues, job.type, job.id, row.run);
}

/**
 * One pass over the jobs that PostgreSQL says are `processing`, once the queues paused from the
 * dashboard are paused again where Redis lost their pause ({@link restoreQueuePauses}; if that
 * fails, the pass queues nothing, or an operator's held-back jobs would run):
 * - one that its BullMQ queue does not have (Redis flushed, or restarted without persistence; or
 *   accepted by an API process that stopped, or gave up, before queueing it) is queued under its
 *   own id. Safe from several processes at once and against a job being accepted right now:
 *   adding a job id that the queue already has is a no-op, and a delivery of a job that has
 *   meanwhile ended does nothing. When Redis kept the job's hash but lost the list that held its
 *   id (an eviction), that hash is removed first, or the add would be that no-op;
 * - one whose BullMQ job failed for good is failed as the worker would have failed it: its
 *   attempts ran out while PostgreSQL could not take the worker's write (an outage longer than
 *   the attempts' back-off), and nothing else would ever end the row. A retry removes the BullMQ
 *   job before it resets the row, and the failure is written only while the row is still in the
 *   run listed, so a retried job is never taken for one;
 * - one whose BullMQ job ended otherwise (completed, or failed without its data or in another
 *   run) is queued again once nothing can still end it (see {@link requeueUnendedRow}).
 */
async function reconcileOnce(deps: ReconcilerDeps): Promise<void> {
  await restoreQueuePauses(deps);
  const requeued: string[] = [];
  const partlyLost: string[] = [];
  const endedUnrun: string[] = [];
  const failed: string[] = [];
  for (const job of await listProcessingJobs(deps.db)) {
    const queue = deps.queues.queue(job.type);
    const state = await queue.getJobState(job.id);
    if (state === 'unknown') {
      if (!(await queue.getJob(job.id))) {
        await deps.queues.enqueue(job.type, job.id, job.run);
        requeued.push(job.id);
      } else if (await replaceQueuedJob(deps.queues, job.type, job.id, job.run)) {
        partlyLost.push(job.id);
      }
      continue;
    }
    if (state !== 'failed' && state !== 'completed') continue;
    const bullJob = await queue.getJob(job.id);
    // Only the run listed is failed: a retry may have replaced the BullMQ job and started the next run since.
    if (state === 'failed' && bullJob && !lostItsData(bullJob) && (bullJob.data.run ?? job.run) === job.run) {
      if (await failAfterAttempts(deps.db, job.type, endedRunOf(bullJob, job.id, job.run), deps.metrics)) failed.push(job.id);
      continue;
    }
    if (await requeueUnendedRow(deps, job, bullJob)) endedUnrun.push(job.id);
  }
  if (requeued.length > 0) deps.logger.warn({ jobIds: requeued }, 'jobs lost by the queue were queued again');
  if (partlyLost.length > 0) deps.logger.warn({ jobIds: partlyLost }, 'jobs whose queue entry Redis had partly lost were queued again');
  if (endedUnrun.length > 0) deps.logger.warn({ jobIds: endedUnrun }, 'jobs whose queue entry had ended without ending them were queued again');
  if (failed.length > 0) deps.logger.warn({ jobIds: failed }, 'jobs whose attempts ran out while their failure could not be recorded were failed');
}

/**
 * Runs {@link reconcileOnce} and {@link restoreExportSchedules}, checks Redis's eviction policy
 * (warned about on every pass: it can be changed while the service runs), and starts the product
 * search catch-ups left undone (in the background, see CatchUpRunner.catchUpBacklog), now and then
 * every `intervalMs` (one pass at a time); returns a function that stops it.
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
    const policy = checkEvictionPolicy(deps.redis, deps.logger).catch((error: unknown) =>
      deps.logger.warn({ err: error }, 'eviction policy check failed'),
    );
    deps.searchCatchUp.catchUpBacklog();
    void Promise.all([jobs, schedules, policy]).finally(() => {
      running = false;
    });
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
