import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db/pool.js';
import { finishJob, markJobQueued } from '../shared/jobs/job-queries.js';
import { QUEUE_NAMES, queuePrefix, type QueuedJob } from '../shared/queues.js';
import type { UploadStore } from '../shared/upload-store.js';
import { scheduleCleanup } from './cleanup.js';
import { runImport } from './import/run-import.js';

/** What the workers of one process need. */
export interface WorkerDeps {
  db: Db;
  uploads: UploadStore;
  logger: Logger;
  config: Config;
  /** A connection made with `createWorkerConnection` (BullMQ duplicates it for blocking reads). */
  connection: Redis;
}

/** The running workers of this process. */
export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs, lets active ones finish for SHUTDOWN_GRACE_MS, then hands the rest back. */
  close(): Promise<void>;
}

const SHUTDOWN_REASON = 'shutdown';

/** Starts the import worker; more job types add their processors here. */
export function startWorkers(deps: WorkerDeps): RunningWorkers {
  const { config, logger } = deps;
  const importWorker = new Worker<QueuedJob>(QUEUE_NAMES.import, (job, token, signal) => processImport(deps, job, token, signal), {
    connection: deps.connection,
    prefix: queuePrefix(config),
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: 2,
  });
  const workers = [importWorker];
  for (const worker of workers) {
    worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
    worker.on('failed', (job, error) => void settleFailedJob(deps, job, error));
  }
  const stopCleanup = scheduleCleanup({
    db: deps.db,
    uploads: deps.uploads,
    uploadRetentionDays: config.UPLOAD_RETENTION_DAYS,
    logger,
  });
  return {
    workers,
    async close() {
      stopCleanup();
      const handBack = setTimeout(() => {
        for (const worker of workers) worker.cancelAllJobs(SHUTDOWN_REASON);
      }, config.SHUTDOWN_GRACE_MS);
      try {
        await Promise.all(workers.map((worker) => worker.close()));
      } finally {
        clearTimeout(handBack);
      }
    },
  };
}

/**
 * The BullMQ processor of import jobs. A data problem (the job's outcome is `failed`) is not
 * retried: UnrecoverableError. An I/O failure is retried with back-off; on the last attempt the
 * job row is failed so the status endpoint never shows `processing` forever. A job interrupted by
 * shutdown goes back to the queue without using up an attempt.
 */
async function processImport(deps: WorkerDeps, job: Job<QueuedJob>, token?: string, signal?: AbortSignal) {
  const { jobId } = job.data;
  try {
    const outcome = await runImport(
      { db: deps.db, uploads: deps.uploads, logger: deps.logger, maxRecordBytes: deps.config.IMPORT_MAX_RECORD_BYTES },
      jobId,
      signal,
    );
    if (outcome?.status === 'failed') throw new UnrecoverableError(outcome.detail ?? 'Import failed.');
  } catch (error) {
    if (error instanceof UnrecoverableError) throw error;
    if (signal?.aborted && signal.reason === SHUTDOWN_REASON && token) {
      deps.logger.warn({ jobId }, 'import interrupted by shutdown; handed back to the queue');
      await job.moveToDelayed(Date.now() + 1_000, token);
      await markJobQueued(deps.db, jobId);
      throw new DelayedError();
    }
    deps.logger.error({ err: error, jobId, attempt: job.attemptsMade + 1 }, 'import attempt failed');
    throw error;
  }
}

/**
 * Fails the job row of a BullMQ job that will not run again (attempts used up, or stalled too
 * often) while its row still says `processing`.
 */
async function settleFailedJob(deps: WorkerDeps, job: Job<QueuedJob> | undefined, error: Error): Promise<void> {
  if (!job) return;
  const attempts = job.opts.attempts ?? 1;
  const final = job.attemptsMade >= attempts || error instanceof UnrecoverableError || /stalled/i.test(error.message);
  if (!final) return;
  try {
    await finishJob(deps.db, job.data.jobId, {
      status: 'failed',
      errorCode: 'IMPORT_FAILED',
      detail: `The import could not be completed after ${job.attemptsMade} attempts because of an internal error; no rows were imported. Retry it later.`,
    });
  } catch (settleError) {
    deps.logger.error({ err: settleError, jobId: job.data.jobId }, 'could not record the failed job');
  }
}
