import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { markJobQueued } from '../shared/jobs/job-queries.js';
import type { JobType } from '../shared/jobs/job-row.js';
import { systemResolver } from '../shared/callbacks/host-resolver.js';
import { scheduleCallbackDelivery } from './callbacks/deliver-callbacks.js';
import { scheduleCleanup } from './cleanup.js';
import { startScheduleWorker } from './export/schedule-worker.js';
import { cancelChannel } from '../shared/job-control.js';
import { createJobQueues, QUEUE_NAMES, queuePrefix, type QueuedJob } from '../shared/queues.js';
import { ExportScheduler } from '../shared/schedules/export-scheduler.js';
import { withInlineUploads } from '../shared/storage/inline-uploads.js';
import { timerDelay } from '../shared/timer-limit.js';
import { listenForCancels } from './cancel-listener.js';
import { AccountSlots, withAccountSlot } from './fairness.js';
import { withRunClaim } from './run-claim.js';
import { withConflictRetry } from './deadlock-retry.js';
import { withJobMetrics } from './job-metrics.js';
import { CANCEL_REASON, SHUTDOWN_REASON, type JobProcessor, type ProcessorContext, type WorkerDeps } from './job-processor.js';
import { createProcessors } from './processors.js';
import { scheduleReconciler } from './reconciler.js';
import { CatchUpRunner } from './search/catch-up-runner.js';
import { endedRunOf, failAfterAttempts } from './failed-job.js';
import { lostItsData, requeueLostDelivery } from './lost-jobs.js';
import { JobCancelledError } from './job-cancelled-error.js';
import { ShutdownHandBack } from './shutdown-hand-back.js';
import { ShutdownNotice } from './shutdown-notice.js';
import { blockingConnectionsAlive } from './worker-listener.js';
import { WorkerWatchdog } from './worker-watchdog.js';

export type { WorkerDeps } from './job-processor.js';

/** The running workers of this process. */
export interface RunningWorkers {
  /** The Workers now (a Worker found stuck is replaced in place). */
  workers: Worker[];
  /** True while every Worker runs, its blocking connection is up, and none was found taking no jobs. */
  alive(): Promise<boolean>;
  /**
   * Stops taking jobs, lets active ones finish for SHUTDOWN_GRACE_MS, then hands the rest back;
   * the callbacks being sent are answered (within their timeout) and recorded meanwhile. A Worker
   * that has not closed WORKER_CLOSE_MARGIN_MS after that has its connections dropped, so the
   * process can exit; its jobs are delivered again once found stalled.
   */
  close(): Promise<void>;
}

/**
 * After SHUTDOWN_GRACE_MS, how long the Workers may take to hand their jobs back and close. Not
 * less than a callback's delivery timeout (10 s): the callbacks being sent when the process stops
 * are answered, or time out, and are recorded within this bound.
 */
export const WORKER_CLOSE_MARGIN_MS = 10_000;

/** Starts one BullMQ worker per job type that has a processor, and the periodic cleanup. */
export function startWorkers(given: WorkerDeps): RunningWorkers {
  // The imports read, and the cleanup removes, the small uploads kept in PostgreSQL too.
  const deps = { ...given, uploads: withInlineUploads(given.db, given.uploads) };
  const { config, logger } = deps;
  const searchCatchUp = new CatchUpRunner({ db: deps.db, logger });
  const processors = createProcessors(deps, searchCatchUp);
  const shutdown = new ShutdownNotice();
  const slots = new AccountSlots(deps.connection, queuePrefix(config), config.MAX_JOBS_PER_ACCOUNT, config.WORKER_LOCK_DURATION_MS * 2);
  const watchdog = new WorkerWatchdog({
    connection: deps.connection,
    prefix: queuePrefix(config),
    stuckAfterMs: config.WORKER_STUCK_AFTER_MS,
    handBackReason: SHUTDOWN_REASON,
    logger,
  });
  // The producer side: the reconciler's, and the one that queues again a delivery that lost its data.
  const queues = createJobQueues(deps.connection, config, (error) => logger.warn({ err: error }, 'job queue error'));
  for (const [type, typeProcessor] of Object.entries(processors) as Array<[JobType, JobProcessor]>) {
    const measured = deps.metrics ? withJobMetrics(deps.metrics, type, typeProcessor) : typeProcessor;
    const claimed = withRunClaim({ db: deps.db, leaseMs: config.WORKER_LOCK_DURATION_MS, logger }, withAccountSlot({ db: deps.db, slots }, measured));
    const processor = withConflictRetry({ db: deps.db, logger, type }, claimed);
    watchdog.add((track) => {
      const worker = new Worker<QueuedJob>(
        QUEUE_NAMES[type],
        track<QueuedJob>((job, token, signal) => runDelivery(deps, type, processor, { job, token, signal, shutdown })),
        {
          connection: deps.connection,
          prefix: queuePrefix(config),
          concurrency: config.WORKER_CONCURRENCY,
          lockDuration: config.WORKER_LOCK_DURATION_MS,
          stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
          maxStalledCount: 2,
        },
      );
      worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
      worker.on('failed', (job, error) => void settleFailedJob(deps, type, job, error));
      worker.on('completed', (job) => {
        if (!lostItsData(job)) return;
        requeueLostDelivery({ db: deps.db, queues, logger }, type, job.id!).catch((error: unknown) =>
          logger.warn({ err: error, jobId: job.id, type }, 'could not queue again a job that had lost its data in Redis; the reconciler will'),
        );
      });
      return worker;
    });
  }
  watchdog.add((track) => startScheduleWorker(deps, track));
  watchdog.start();
  const { workers } = watchdog;
  const stopCleanup = scheduleCleanup({
    db: deps.db,
    uploads: deps.uploads,
    uploadRetentionDays: config.UPLOAD_RETENTION_DAYS,
    exportRetentionDays: config.EXPORT_RETENTION_DAYS,
    logger,
  });
  const stopCallbacks = scheduleCallbackDelivery({
    db: deps.db,
    logger,
    fallbackSecret: config.CALLBACK_SECRET,
    allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
    resolveHost: deps.resolveHost ?? systemResolver,
    retryBaseSeconds: config.CALLBACK_RETRY_BASE_SECONDS,
    maxAttempts: config.CALLBACK_MAX_ATTEMPTS,
  });
  const stopCancels = listenForCancels(deps.connection, cancelChannel(config), workers, logger);
  const scheduler = new ExportScheduler(deps.connection, config, logger);
  const stopReconciler = scheduleReconciler(
    {
      db: deps.db, queues, redis: deps.connection, logger, scheduler, searchCatchUp, metrics: deps.metrics,
      graceMs: config.WORKER_LOCK_DURATION_MS,
    },
    config.RECONCILE_INTERVAL_MS,
  );
  return {
    workers,
    alive: async () => watchdog.healthy() && (await blockingConnectionsAlive(workers)),
    async close() {
      stopCleanup();
      // Claims no more callbacks now; those under way are answered and recorded before the caller
      // closes the pool, or the receivers would get them again once their claims' lease ran out.
      const callbacksStopped = stopCallbacks();
      stopReconciler();
      shutdown.begin(Date.now() + config.SHUTDOWN_GRACE_MS);
      const closing = [...workers];
      const open = new Set(closing);
      const handBack = setTimeout(() => {
        for (const worker of closing) worker.cancelAllJobs(SHUTDOWN_REASON);
      }, config.SHUTDOWN_GRACE_MS);
      // Capped: SHUTDOWN_GRACE_MS may be the longest timer, and a longer one would fire at once.
      const boundMs = timerDelay(config.SHUTDOWN_GRACE_MS + WORKER_CLOSE_MARGIN_MS);
      let bound: NodeJS.Timeout | undefined;
      const closed = Promise.all([
        watchdog.stop(),
        stopCancels(),
        callbacksStopped,
        ...closing.map((worker) => worker.close().finally(() => open.delete(worker))),
      ]).then(() => Promise.all([queues.close(), scheduler.close(), searchCatchUp.close()]));
      const inTime = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(false), boundMs))),
      ]).finally(() => {
        clearTimeout(handBack);
        clearTimeout(bound);
      });
      if (inTime) return;
      closed.catch(() => {});
      logger.error(
        { boundMs, queues: [...open].map((worker) => worker.name) },
        'workers did not close in time: dropping their connections; their jobs are delivered again once found stalled',
      );
      for (const worker of open) worker.disconnect().catch(() => {});
    },
  };
}

/**
 * One BullMQ delivery of a job. A data problem (the job's outcome is `failed`) is not retried:
 * UnrecoverableError. An I/O failure is retried with back-off; on the last attempt the job row is
 * failed so the status endpoint never shows `processing` forever. A job interrupted by shutdown
 * (aborted at the end of the grace, or stopped by its processor before) goes back to the queue
 * without using up an attempt; a cancelled one is not retried.
 */
async function runDelivery(
  deps: WorkerDeps,
  type: JobType,
  processor: JobProcessor,
  delivery: { job: Job<QueuedJob>; token: string | undefined; signal: AbortSignal | undefined; shutdown: ShutdownNotice },
) {
  const { job, token, shutdown } = delivery;
  // Redis lost the job's hash: there is no job id to run. The delivery ends as it is, and the job
  // is queued again, whole, once BullMQ has let go of it (the worker's 'completed' handler).
  if (lostItsData(job)) return;
  const { jobId } = job.data;
  const abort = delivery.signal ?? new AbortController().signal;
  const context: ProcessorContext = { jobId, job, token, signal: abort, shutdown };
  try {
    const outcome = await processor(context);
    if (outcome?.status === 'failed') throw new UnrecoverableError(outcome.detail ?? `The ${type} failed.`);
  } catch (error) {
    if (error instanceof UnrecoverableError || error instanceof DelayedError) throw error;
    // A cancelled job's row was already ended by the cancel request; the delivery just stops.
    if (abort.aborted && abort.reason === CANCEL_REASON) throw new JobCancelledError();
    const interrupted = (abort.aborted && abort.reason === SHUTDOWN_REASON) || error instanceof ShutdownHandBack;
    if (interrupted && token) {
      deps.logger.warn({ jobId, accountId: context.accountId, type }, 'job interrupted by shutdown; handed back to the queue');
      await job.moveToDelayed(Date.now() + 1_000, token);
      await markJobQueued(deps.db, jobId);
      throw new DelayedError();
    }
    deps.logger.error({ err: error, jobId, accountId: context.accountId, type, attempt: job.attemptsMade + 1 }, 'job attempt failed');
    throw error;
  }
}

/**
 * Fails the job row of a BullMQ job that will not run again (attempts used up, or stalled too
 * often) while its row still says `processing` in the run the BullMQ job was queued for: this
 * handler runs after BullMQ has let go of the job, when a retry may already have started the
 * job's next run, which it must leave alone. A cancelled delivery is not settled: its cancel
 * already ended the row. When PostgreSQL cannot take the write (the failures were its outage),
 * the reconciler fails the row once it can.
 */
async function settleFailedJob(deps: WorkerDeps, type: JobType, job: Job<QueuedJob> | undefined, error: Error): Promise<void> {
  // A delivery that lost its data stands for no run to fail: its job is queued again instead.
  if (!job || error instanceof JobCancelledError || lostItsData(job)) return;
  const attempts = job.opts.attempts ?? 1;
  const final = job.attemptsMade >= attempts || error instanceof UnrecoverableError || /stalled/i.test(error.message);
  if (!final) return;
  try {
    await failAfterAttempts(deps.db, type, endedRunOf(job, job.data.jobId, job.data.run), deps.metrics);
  } catch (settleError) {
    deps.logger.error({ err: settleError, jobId: job.data.jobId }, 'could not record the failed job; the reconciler will');
  }
}
