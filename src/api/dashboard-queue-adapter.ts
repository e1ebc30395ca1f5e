import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Job } from 'bullmq';
import { markPauseRecorded, unmarkPauseRecorded } from '../shared/jobs/queue-pause-marker.js';
import { AppError } from './errors.js';

/** Retries job `id` of any account; null when its row still says `processing`. */
export type OperatorJobRetry = (id: string) => Promise<unknown>;

/**
 * Cancels job `id` of any account as POST /v1/jobs/{id}/cancel does, while its row says
 * `processing`; false (nothing done) when there is no such row or it has ended.
 */
export type OperatorJobCancel = (id: string) => Promise<boolean>;

/**
 * Where the dashboard's pauses are kept besides Redis (PostgreSQL, see migration 032): BullMQ's
 * pause lives in Redis alone, and a Redis that loses its data would let the queue run.
 */
export interface QueuePauseRecord {
  /** Records that the operator paused the queues named (BullMQ queue names). */
  record(queues: readonly string[]): Promise<void>;
  /** Forgets the pauses of the queues named (a Resume). */
  clear(queues: readonly string[]): Promise<void>;
}

/** The row operations a job-row queue's dashboard actions go through, and where its pauses are kept. */
export interface JobRowControl {
  retryRow: OperatorJobRetry;
  cancelRow: OperatorJobCancel;
  pauses: QueuePauseRecord;
}

type RetryState = 'completed' | 'failed';

/** The states of jobs that have not run to their end: removing one of these cancels its job. */
export type PendingState = 'waiting' | 'prioritized' | 'delayed' | 'active';

/** How many jobs a bulk action reads at a time. */
const PAGE_SIZE = 100;

/** The job row id a BullMQ job carries; undefined for a job that carries none. */
const rowIdOf = (job: Job): string | undefined => {
  const jobId = (job.data as { jobId?: unknown } | undefined)?.jobId;
  return typeof jobId === 'string' ? jobId : undefined;
};

/**
 * The dashboard's retry of one BullMQ job. BullMQ's own retry would only deliver the job again,
 * and a delivery of a job whose row has ended does nothing (that is what keeps stale and duplicate
 * deliveries harmless). So an ended row is retried like POST /v1/jobs/{id}/retry: reset, and
 * queued again as a fresh BullMQ job. Only while the row still says `processing` (its failure
 * could not be recorded) is BullMQ's retry used, since that delivery runs it. A refusal is the
 * API's AppError.
 */
async function retryJobRow(retryRow: OperatorJobRetry, job: Job, nativeRetry: Job['retry'], state?: RetryState): Promise<void> {
  const jobId = rowIdOf(job);
  if (jobId === undefined) return nativeRetry(state);
  if (!(await retryRow(jobId))) await nativeRetry(state);
}

/**
 * The dashboard's removal of one BullMQ job. Removing the BullMQ job of a row that says
 * `processing` would not stop it: the reconciler queues such a row again and it runs. So that job
 * is cancelled like POST /v1/jobs/{id}/cancel (the row ends `cancelled`, JOB_CANCELLED; a waiting
 * job leaves its queue, a running one stops). The BullMQ job of a row that has ended (or of no
 * row) is only a record here, and BullMQ removes it; the row, its report and its file stay.
 */
async function removeJobRow(cancelRow: OperatorJobCancel, job: Job, nativeRemove: Job['remove']): Promise<'cancelled' | 'removed'> {
  const jobId = rowIdOf(job);
  if (jobId !== undefined && (await cancelRow(jobId))) return 'cancelled';
  await nativeRemove();
  return 'removed';
}

/** What Retry all answers: jobs run again, and jobs refused (they stay as they are). */
export interface RetryAllSummary {
  retried: number;
  skipped: number;
}

/**
 * What the removal of every job of some states answers: jobs cancelled, BullMQ jobs of ended rows
 * removed, and jobs left as they are (the last delivery of an ended row, still running).
 */
export interface RemoveAllSummary {
  cancelled: number;
  removed: number;
  skipped: number;
}

/** Bull Board's adapter of one queue whose jobs retry and remove through their job rows. */
export class JobRowQueueAdapter extends BullMQAdapter {
  constructor(
    private readonly bullQueue: ConstructorParameters<typeof BullMQAdapter>[0],
    private readonly control: JobRowControl,
  ) {
    super(bullQueue);
  }

  /**
   * The dashboard's Pause (of this queue, or of all): recorded in PostgreSQL before Redis pauses
   * the queue, so that the reconciler pauses it again if Redis loses the pause (see
   * restoreQueuePauses); then marked in the queue's meta hash (see PAUSE_MARKER_FIELD), which
   * tells that loss apart from a resume outside the dashboard. A pause that Redis then fails to
   * take, or to mark, is taken, or marked, by the next pass.
   */
  override async pause(): Promise<void> {
    await this.recordPause();
    await super.pause();
    await markPauseRecorded(this.bullQueue);
  }

  /**
   * The dashboard's Resume: the record goes first, so no reconciler pass pauses the queue again
   * after Redis resumed it (a pass under way finishes first: it holds the record).
   */
  override async resume(): Promise<void> {
    await this.clearPause();
    await super.resume();
  }

  /**
   * Records the queue as paused by the operator, without pausing it in Redis. A marker left by an
   * earlier pause goes first: until Redis has taken this one, a pass must not take the queue for
   * one resumed outside the dashboard and clear this record.
   */
  async recordPause(): Promise<void> {
    await unmarkPauseRecorded(this.bullQueue);
    await this.control.pauses.record([this.getQueueName()]);
  }

  /** Forgets the operator's pause of the queue, and its marker, without resuming it in Redis. */
  async clearPause(): Promise<void> {
    await this.control.pauses.clear([this.getQueueName()]);
    await unmarkPauseRecorded(this.bullQueue);
  }

  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    return job && this.rowBound(job);
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    return (await super.getJobs(...args)).map((job) => this.rowBound(job));
  }

  /**
   * Retry all of the jobs in `state`: a job POST /v1/jobs/{id}/retry would refuse (a completed
   * job, an import whose upload is gone) is skipped and stays where it is; the others run again
   * once.
   */
  async retryAll(state: RetryState): Promise<RetryAllSummary> {
    const summary: RetryAllSummary = { retried: 0, skipped: 0 };
    await this.eachJobOnce(state, async (jobs) => {
      const outcomes = await Promise.allSettled(jobs.map((job) => retryJobRow(this.control.retryRow, job, job.retry.bind(job), state)));
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') summary.retried += 1;
        else if (isRefusal(outcome.reason)) summary.skipped += 1;
        // Anything else (Redis or PostgreSQL gone) fails the request once this page has settled.
        else throw outcome.reason;
      }
    });
    return summary;
  }

  /**
   * Removes every job in `states` as the dashboard's Remove does one ({@link removeJobRow}): the
   * jobs of rows that have not ended are cancelled. A running job whose row has already ended is
   * finishing its last delivery (BullMQ refuses to remove it): it is skipped.
   */
  async removeAll(states: readonly PendingState[]): Promise<RemoveAllSummary> {
    const summary: RemoveAllSummary = { cancelled: 0, removed: 0, skipped: 0 };
    for (const state of states) {
      await this.eachJobOnce(state, async (jobs) => {
        for (const job of jobs) {
          const rowId = rowIdOf(job);
          if (rowId !== undefined && (await this.control.cancelRow(rowId))) summary.cancelled += 1;
          else if (state === 'active' || !(await removedUnlessActive(job))) summary.skipped += 1;
          else summary.removed += 1;
        }
      });
    }
    return summary;
  }

  /**
   * Calls `handle` once on each job that was in `state` when it started, page by page (as BullMQ
   * gives them, unwrapped). Handled jobs may leave the state or stay, so a page is read again until
   * it holds only jobs already handled, then the next one; the count taken first bounds the work
   * (a job that comes back to the state meanwhile does so under an id already handled).
   */
  private async eachJobOnce(state: RetryState | PendingState, handle: (jobs: Job[]) => Promise<void>): Promise<void> {
    const total = (await this.getJobCounts())[state] ?? 0;
    const seen = new Set<string>();
    let offset = 0;
    while (seen.size < total) {
      const page = await super.getJobs([state], offset, offset + PAGE_SIZE - 1);
      if (page.length === 0) break;
      const fresh = page.filter((job) => job.id !== undefined && !seen.has(job.id)).slice(0, total - seen.size);
      if (fresh.length === 0) {
        offset += page.length;
        continue;
      }
      fresh.forEach((job) => seen.add(job.id!));
      await handle(fresh);
    }
  }

  // Bull Board's retry and removal of one job call `retry` and `remove` on the job it got here,
  // and a refusal (an AppError) answers its status and code. Listed jobs get them too, so no path
  // of Bull Board's can retry or remove a job without its row.
  private rowBound(job: Job): Job {
    const nativeRetry = job.retry.bind(job);
    const nativeRemove = job.remove.bind(job);
    Object.defineProperties(job, {
      retry: { value: (state?: RetryState) => retryJobRow(this.control.retryRow, job, nativeRetry, state), enumerable: false, configurable: true },
      remove: { value: async () => void (await removeJobRow(this.control.cancelRow, job, nativeRemove)), enumerable: false, configurable: true },
    });
    return job;
  }
}

/** Removes `job` from BullMQ; false when BullMQ refuses because a worker runs it meanwhile. */
async function removedUnlessActive(job: Job): Promise<boolean> {
  try {
    await job.remove();
    return true;
  } catch (error) {
    if ((await job.getState()) === 'active') return false;
    throw error;
  }
}

/** The API refusing to retry one job (409 still running, 422 completed or upload gone, 404 row gone). */
function isRefusal(error: unknown): boolean {
  return error instanceof AppError && error.status < 500;
}
