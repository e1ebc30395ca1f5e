import { DelayedError, type Job } from 'bullmq';
import type { RedisConnection } from '../shared/redis-connection.js';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import type { HostResolver } from '../shared/callbacks/host-resolver.js';
import type { Db } from '../shared/db/pool.js';
import type { JobOutcome } from '../shared/jobs/job-queries.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { QueuedJob } from '../shared/queues.js';
import type { HeldRunClaim } from '../shared/jobs/run-claim-queries.js';
import type { FileStore } from '../shared/storage/file-store.js';
import type { ShutdownNotice } from './shutdown-notice.js';

/** What the workers of one process need. */
export interface WorkerDeps {
  db: Db;
  uploads: FileStore;
  logger: Logger;
  config: Config;
  /** A connection made with `createWorkerConnection` (BullMQ duplicates it for blocking reads). */
  connection: RedisConnection;
  /** Job counters and durations (exposed by /metrics of this process); none when absent. */
  metrics?: ServiceMetrics;
  /** Resolves callback_url hosts; default: the system resolver. */
  resolveHost?: HostResolver;
}

/** The abort reason of a delivery whose job an operator or its owner cancelled. */
export const CANCEL_REASON = 'cancelled';
/** The abort reason of a delivery interrupted by shutdown (it goes back to the queue). */
export const SHUTDOWN_REASON = 'shutdown';

/** One delivery of one job to its processor. */
export interface ProcessorContext {
  /** Our job id (the row in `jobs`). */
  jobId: string;
  /** The BullMQ job that carried it (attempts, rate limiting, moving it back). */
  job: Job<QueuedJob>;
  /** The BullMQ lock token of this delivery. */
  token: string | undefined;
  /**
   * Aborted when the job must stop: shutdown (reason `shutdown`) or cancellation (reason
   * `cancelled`). A processor stops at its next safe point, writes nothing more and throws.
   */
  signal: AbortSignal;
  /**
   * The process's shutdown before `signal` aborts at the end of its grace: a processor that needs
   * time to stop at a safe point starts stopping from it, then throws a `ShutdownHandBack`.
   */
  shutdown: ShutdownNotice;
  /**
   * The job's account, once read (withAccountSlot reads it before the job runs), so that the
   * delivery's own log lines name it without reading the row again; unset before that.
   */
  accountId?: string;
  /**
   * The claim on the job's row that this delivery's run holds (see withRunClaim): its final write
   * is refused once another run has taken the claim over. Absent for a job that had ended.
   */
  claim?: HeldRunClaim;
}

/**
 * Runs one attempt of a job of one type. Returns the job's outcome once the processor has
 * recorded it in PostgreSQL, or null when the job had already ended (a duplicate delivery). A
 * `failed` outcome is a data problem and is not retried; a thrown error is an I/O failure and is
 * retried with back-off.
 */
export type JobProcessor = (context: ProcessorContext) => Promise<JobOutcome | null>;

/**
 * Puts a delivery back in its queue for between `ms` and twice that (jittered: deliveries held
 * together do not all come back together) without using up an attempt (BullMQ's DelayedError,
 * thrown: it never returns), for a job that may not run yet.
 */
export async function delayDelivery(context: ProcessorContext, ms: number): Promise<never> {
  if (!context.token) throw new Error('a delivery without a lock token cannot be delayed');
  await context.job.moveToDelayed(Date.now() + ms + Math.floor(Math.random() * ms), context.token);
  throw new DelayedError();
}

/**
 * Renews a lease of `leaseMs` at a third of it (at least once a second) while a delivery runs; a
 * renewal that fails is left to the next one. Returns the function that stops it.
 */
export function renewLease(leaseMs: number, renew: () => Promise<unknown>): () => void {
  const timer = setInterval(() => {
    renew().catch(() => {});
  }, Math.max(1_000, Math.floor(leaseMs / 3)));
  return () => clearInterval(timer);
}
