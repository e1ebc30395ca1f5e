import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { JOB_TYPES } from '../shared/jobs/job-row.js';
import { withRecordedPauses } from '../shared/jobs/queue-pause-queries.js';
import type { JobQueues } from '../shared/queues.js';

/**
 * Pauses again each job queue that an operator paused from the dashboard (PostgreSQL keeps the
 * pause: migration 032) while Redis says it is not paused: Redis lost its data (FLUSHALL, a restart
 * without persistence, a failover to an empty replica), and BullMQ's pause with it. The reconciler
 * runs this before it queues lost jobs again, so they wait in the paused queue instead of running.
 * BullMQ's pause touches the queue's own keys alone (one hash-tagged slot on a Redis Cluster). The
 * records stay locked while it runs, so a Resume from the dashboard resumes the queue after it.
 */
export async function restoreQueuePauses(deps: { db: Db; queues: JobQueues; logger: Pick<Logger, 'warn'> }): Promise<void> {
  await withRecordedPauses(deps.db, async (paused) => {
    for (const type of JOB_TYPES) {
      const queue = deps.queues.queue(type);
      if (!paused.has(queue.name) || (await queue.isPaused())) continue;
      await queue.pause();
      deps.logger.warn({ queue: queue.name }, 'queue paused again: Redis had lost its pause');
    }
  });
}
