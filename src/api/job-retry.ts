import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../shared/db/pool.js';
import { resetJobForRetry } from '../shared/jobs/job-control-queries.js';
import { findJobOfAnyAccount } from '../shared/jobs/job-queries.js';
import type { JobRow } from '../shared/jobs/job-row.js';
import type { JobQueues, QueuedJob } from '../shared/queues.js';
import { jobRetriedWithKey } from '../shared/jobs/retry-keys.js';
import type { FileStore } from '../shared/storage/file-store.js';
import { AppError, idempotencyKeyReused } from './errors.js';
import { uploadExpired, uploadIsStored, type UploadRetention } from './lost-upload.js';

/** How long a retry waits for the job's last delivery to let go of its BullMQ job. */
const DELIVERY_END_WAIT_MS = 3_000;

/**
 * Removes the BullMQ job of an ended job so the retry can queue it again under the same id. The
 * job row ends a moment before its delivery does (which holds the BullMQ job's lock until then),
 * so this waits a little for that. False when the delivery is still running after the wait.
 */
async function removeFinishedDelivery(queue: Queue<QueuedJob>, id: string): Promise<boolean> {
  const deadline = Date.now() + DELIVERY_END_WAIT_MS;
  for (;;) {
    await queue.remove(id);
    if ((await queue.getJobState(id)) === 'unknown') return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Refuses a retry of a job that cannot run again (API.md §4, POST /v1/jobs/{id}/retry): 409
 * JOB_NOT_FINISHED while it still runs, 422 VALIDATION_ERROR once it completed or when the
 * retention has removed an import's upload (one missing from storage: {@link assertUploadStored}).
 */
export function assertRetryable(job: JobRow): void {
  if (job.status === 'processing') {
    throw new AppError(409, 'JOB_NOT_FINISHED', 'The job is still processing: cancel it or wait until it ends.');
  }
  if (job.status === 'completed') {
    throw new AppError(422, 'VALIDATION_ERROR', 'Only a failed or cancelled job can be retried; this job completed.');
  }
  if (job.type === 'import' && !job.input_path) throw uploadNoLongerStored();
}

const uploadNoLongerStored = () => new AppError(422, 'VALIDATION_ERROR', "The job's upload is no longer stored; upload the file again.");

/**
 * Refuses (422, as {@link assertRetryable} does for an upload the retention removed) the retry of
 * an import whose upload is missing from storage: every attempt of it would fail. Sooner than
 * UPLOAD_RETENTION_DAYS the upload was lost, which is logged at error (see uploadExpired).
 */
export async function assertUploadStored(
  deps: { uploads: FileStore; uploadRetention: UploadRetention },
  job: JobRow,
  log: FastifyBaseLogger,
): Promise<void> {
  if (job.type !== 'import' || !job.input_path || (await uploadIsStored(deps.uploads, job.input_path))) return;
  if (uploadExpired(job, deps.uploadRetention, log)) throw uploadNoLongerStored();
  throw new AppError(422, 'VALIDATION_ERROR', "The job's upload is missing from storage; upload the file again.");
}

/**
 * Runs a failed or cancelled job (checked with {@link assertRetryable}) again from its stored
 * input, under the same id: an import or export with its counts and report cleared, an enrichment
 * from after its last settled product, or from the first the monthly quota left not looked up
 * (see resetJobForRetry). Its old BullMQ job is replaced by a fresh one, so the new run has all
 * its attempts. Workers never revive an ended row on their own (a stale or duplicate delivery
 * does nothing), so every retry, the API's and the queue dashboard's, goes through here. Returns the row, now `processing`.
 * An Idempotency-Key is taken with the reset (RetryKeyTaken when a repeat took it first).
 */
export async function requeueEndedJob(deps: { db: Db; queues: JobQueues }, job: JobRow, idempotencyKey?: string): Promise<JobRow> {
  if (!(await removeFinishedDelivery(deps.queues.queue(job.type), job.id))) {
    throw new AppError(409, 'JOB_NOT_FINISHED', "The job's last run is still stopping; retry it in a moment.");
  }
  const reset = await resetJobForRetry(deps.db, job.id, idempotencyKey);
  if (!reset) {
    // The row changed since it was checked: another retry ran it, or the retention cleanup
    // removed the import's upload meanwhile (422 then, as if the retry had come after it).
    const current = await findJobOfAnyAccount(deps.db, job.id);
    if (current && current.status !== 'processing') assertRetryable(current);
    throw new AppError(409, 'JOB_NOT_FINISHED', 'The job is already running again.');
  }
  // If queueing fails now, the row stays `processing` and the reconciler queues it again. The new
  // delivery carries the new run: the old run's clean-up, if it comes late, ends nothing of it.
  await deps.queues.enqueue(job.type, job.id, reset.run_number);
  return reset;
}

/** What a retry repeated with its Idempotency-Key answers (the OpenAPI document's words). */
export const RETRY_REPEAT =
  'the job as it is now (202, the same id) instead of running it again (retries have their keys apart from the requests that start jobs)';

/**
 * The answer to a retry repeated with its Idempotency-Key: the job as it is now when a retry with
 * the key ran this job again in the last 24 hours (it does not run again), a 422 when it ran
 * another job, null when the key is new.
 */
export async function repeatedRetry(db: Db, job: JobRow, key: string): Promise<JobRow | null> {
  const retried = await jobRetriedWithKey(db, job.account_id, key);
  if (retried === null) return null;
  if (retried !== job.id) throw idempotencyKeyReused();
  return (await findJobOfAnyAccount(db, job.id)) ?? job;
}
