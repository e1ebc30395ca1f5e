import type { Job } from 'bullmq';
import type { Db } from '../shared/db/pool.js';
import { finishJob } from '../shared/jobs/job-queries.js';
import { attemptsRanOutDetail, JOB_FAILURE_CODES, LOST_UPLOAD_DETAIL, type JobType } from '../shared/jobs/job-row.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import { wasMissingUpload } from './import/lost-upload.js';

/** The BullMQ run of a job that will not run again, as its queue recorded it. */
export interface EndedRun {
  jobId: string;
  /** The run the BullMQ job was queued for; undefined for a job queued before runs were numbered. */
  run: number | undefined;
  attemptsMade: number;
  /** When the last attempt started (BullMQ's `processedOn`, epoch ms); undefined if none ever did. */
  lastAttemptStartedAt?: number | undefined;
  /** When BullMQ gave the job up (its `finishedOn`, epoch ms); undefined: now. */
  endedAt?: number | undefined;
  /** Why the last attempt failed (BullMQ's `failedReason`: its error's message), which picks the job's detail. */
  lastError?: string | undefined;
}

/** The {@link EndedRun} of BullMQ job `job`, queued for run `run` of job row `jobId`, as its queue recorded it. */
export const endedRunOf = (
  job: Pick<Job, 'attemptsMade' | 'processedOn' | 'finishedOn' | 'failedReason'>,
  jobId: string,
  run: number | undefined,
): EndedRun => ({
  jobId,
  run,
  attemptsMade: job.attemptsMade,
  lastAttemptStartedAt: job.processedOn,
  endedAt: job.finishedOn,
  lastError: job.failedReason ?? undefined,
});

/**
 * The detail of a job failed once its attempts ran out: an import whose last attempt found its
 * upload missing from storage says so and asks for the file again; anything else was an internal
 * error, which a later retry may get past.
 */
function finalDetail(type: JobType, run: EndedRun): string {
  if (type === 'import' && wasMissingUpload(run.lastError)) return LOST_UPLOAD_DETAIL;
  return attemptsRanOutDetail(type, run.attemptsMade);
}

/**
 * Fails the row of a job whose BullMQ job will not run again (its attempts used up, or stalled
 * too often) while the row still says `processing` in `run`, the run that BullMQ job was queued
 * for (undefined: a job queued before runs were numbered, settled whatever the run). False when
 * the row had already ended, or a retry has started its next run since (the ended run's clean-up
 * came late): the worker's `failed` handler and the reconciler may both get here, and the first
 * one wins (and counts the failure in `metrics`).
 */
export async function failAfterAttempts(
  db: Db,
  type: JobType,
  run: EndedRun,
  metrics?: Pick<ServiceMetrics, 'jobsFailed' | 'jobDuration'>,
): Promise<boolean> {
  const failed = await finishJob(db, run.jobId, { status: 'failed', errorCode: JOB_FAILURE_CODES[type], detail: finalDetail(type, run) }, run.run);
  // The processor's own metrics never see this end (an attempt that throws does not know it was
  // the last): counted here, by whichever caller ended the row. The duration is the last
  // attempt's, as for a job completed, failed or cancelled by its processor, and taken from
  // BullMQ's timestamps so that a reconciler failing the row long after is not counted late.
  if (failed && metrics) {
    metrics.jobsFailed.inc({ type });
    if (run.lastAttemptStartedAt !== undefined) {
      const seconds = Math.max(0, (run.endedAt ?? Date.now()) - run.lastAttemptStartedAt) / 1000;
      metrics.jobDuration.observe({ type, status: 'failed' }, seconds);
    }
  }
  return failed;
}
