import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import type { JobType } from '../shared/jobs/job-row.js';
import { processingRunOf } from '../shared/jobs/run-claim-queries.js';
import type { JobQueues, QueuedJob } from '../shared/queues.js';

/**
 * Replaces what BullMQ keeps of job `jobId` (a hash that no list holds any more, a BullMQ job that
 * ended without ending the job, an id whose hash is gone) with a fresh BullMQ job for run `run`.
 * The removal comes first because adding an id whose hash BullMQ still has is a no-op. False when
 * a delivery holds the BullMQ job's lock: a running delivery cannot be removed, and it goes on.
 */
export async function replaceQueuedJob(queues: JobQueues, type: JobType, jobId: string, run: number): Promise<boolean> {
  if ((await queues.queue(type).remove(jobId)) !== 1) return false;
  await queues.enqueue(type, jobId, run);
  return true;
}

/**
 * True for a delivery whose BullMQ job lost its data: Redis evicted the job's hash while its id
 * waited in a list, and BullMQ rebuilt a hash without data (nor attempts, back-off or retention)
 * when a worker took the id. Such a delivery runs nothing (see {@link requeueLostDelivery}).
 */
export const lostItsData = (job: Pick<Job<Partial<QueuedJob>>, 'data'>): boolean => typeof job.data.jobId !== 'string';

/**
 * Queues again, as a whole BullMQ job, the job that a delivery which lost its data (see
 * {@link lostItsData}) stood for, once BullMQ has recorded that delivery as completed: the BullMQ
 * job id is the job row's id (see queues.ts), and the row gives the run it is in. Nothing for a
 * job that has ended. A second run does not start beside one still going: the new delivery waits
 * for the run's claim (see run-claim.ts). If this process stops first, the reconciler does it.
 */
export async function requeueLostDelivery(
  deps: { db: Db; queues: JobQueues; logger: Pick<Logger, 'warn'> },
  type: JobType,
  jobId: string,
): Promise<void> {
  const row = await processingRunOf(deps.db, jobId, 0);
  if (!row || !(await replaceQueuedJob(deps.queues, type, jobId, row.run))) return;
  deps.logger.warn({ jobId, type, run: row.run }, 'a queued job had lost its data in Redis (evicted?): it was queued again');
}
