import type { Db } from '../shared/db/pool.js';
import { finishJob } from '../shared/jobs/job-queries.js';
import { JOB_FAILURE_CODES, type JobType } from '../shared/jobs/job-row.js';
import type { ServiceMetrics } from '../shared/metrics.js';

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
  run: { jobId: string; run: number | undefined; attemptsMade: number },
  metrics?: Pick<ServiceMetrics, 'jobsFailed'>,
): Promise<boolean> {
  const { jobId, attemptsMade } = run;
  const nothingWritten = type === 'import' ? '; no rows were imported' : '';
  const failed = await finishJob(db, jobId, {
    status: 'failed',
    errorCode: JOB_FAILURE_CODES[type],
    detail: `The ${type} could not be completed after ${attemptsMade} attempt${attemptsMade === 1 ? '' : 's'} because of an internal error${nothingWritten}. Retry it later.`,
  }, run.run);
  // The processor's own metrics never see this end: counted here, by whichever caller ended the row.
  if (failed) metrics?.jobsFailed.inc({ type });
  return failed;
}
