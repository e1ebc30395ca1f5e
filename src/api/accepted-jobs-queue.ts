import type { FastifyBaseLogger } from 'fastify';
import type { JobType } from '../shared/jobs/job-row.js';
import type { JobQueues } from '../shared/queues.js';

/**
 * Queues the ids of accepted jobs, whose rows are committed: a job is accepted once PostgreSQL
 * has its row, and its 202 does not wait for Redis. A failed queueing is tried again after
 * {@link RETRY_DELAYS_MS}; after the last try the workers' reconciler queues the job (it queues
 * every `processing` job its queue does not have), and so it does for a process that stopped
 * before queueing.
 */
export interface AcceptedJobsQueue {
  /**
   * Starts queueing `id`; resolves at once, or once this try has ended while more than
   * `maxPending` jobs wait for Redis (a slow Redis slows the requests down instead of piling
   * them up in memory).
   */
  queue(type: JobType, id: string): Promise<void>;
  /** Waits for the queueing under way; the retries not yet due are left to the reconciler. */
  drain(): Promise<void>;
}

/** The waits before each new try of a failed queueing: about half a minute in all. */
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000, 16_000] as const;

export function createAcceptedJobsQueue(
  queues: Pick<JobQueues, 'enqueue'>,
  logger: FastifyBaseLogger,
  { maxPending = 1_000, retryDelaysMs = RETRY_DELAYS_MS as readonly number[] } = {},
): AcceptedJobsQueue {
  const underWay = new Set<Promise<void>>();
  const retries = new Map<string, NodeJS.Timeout>();
  let closing = false;

  const attempt = (type: JobType, id: string, tried: number): Promise<void> => {
    const added = queues.enqueue(type, id).catch((error: unknown) => {
      const delay = retryDelaysMs[tried];
      if (closing || delay === undefined) {
        logger.warn({ err: error, jobId: id }, 'accepted job not queued; the reconciler will queue it');
        return;
      }
      logger.warn({ err: error, jobId: id, retryInMs: delay }, 'accepted job not queued yet; trying again');
      const timer = setTimeout(() => {
        retries.delete(id);
        void attempt(type, id, tried + 1);
      }, delay);
      timer.unref();
      retries.set(id, timer);
    });
    underWay.add(added);
    void added.finally(() => underWay.delete(added));
    return added;
  };

  return {
    async queue(type, id) {
      const added = attempt(type, id, 0);
      if (underWay.size > maxPending) await added;
    },
    async drain() {
      closing = true;
      for (const [id, timer] of retries) {
        clearTimeout(timer);
        logger.warn({ jobId: id }, 'accepted job not queued before shutdown; the reconciler will queue it');
      }
      retries.clear();
      await Promise.all(underWay);
    },
  };
}
