import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import { JOB_TYPES } from '../shared/jobs/job-row.js';
import { markPauseRecorded, pauseMarkState, unmarkPauseRecorded } from '../shared/jobs/queue-pause-marker.js';
import { withRecordedPauses } from '../shared/jobs/queue-pause-queries.js';
import type { JobQueues } from '../shared/queues.js';

/**
 * Keeps each job queue that an operator paused from the dashboard (PostgreSQL keeps the pause:
 * migration 032) paused while Redis says it is not, by what the queue's marker says (see
 * PAUSE_MARKER_FIELD, in the queue's own meta hash):
 * - marker gone: Redis lost its data (FLUSHALL, a restart without persistence, a failover to an
 *   empty replica), and BullMQ's pause with it. The queue is paused again, and marked. The
 *   reconciler runs this before it queues lost jobs again, so they wait in the paused queue
 *   instead of running;
 * - marker there: the queue was resumed outside the dashboard (an API process of an earlier
 *   release, during a rolling upgrade or after a downgrade; BullMQ's `Queue.resume()` in code),
 *   and it stays resumed: its record and marker are cleared.
 * A queue that Redis says is paused gets its marker if it has none (a pause recorded before
 * markers were kept, or one whose marker Redis did not take). BullMQ's pause touches the queue's
 * own keys alone (one hash-tagged slot on a Redis Cluster). The records stay locked while it
 * runs, so a Resume from the dashboard resumes the queue after it, and a Pause from the dashboard
 * is recorded after a record it clears.
 */
export async function restoreQueuePauses(deps: { db: Db; queues: JobQueues; logger: Pick<Logger, 'info' | 'warn'> }): Promise<void> {
  await withRecordedPauses(deps.db, async (paused, clear) => {
    for (const type of JOB_TYPES) {
      const queue = deps.queues.queue(type);
      if (!paused.has(queue.name)) continue;
      const state = await pauseMarkState(queue);
      if (state.paused) {
        if (!state.marked) await markPauseRecorded(queue);
      } else if (state.marked) {
        await unmarkPauseRecorded(queue);
        await clear(queue.name);
        deps.logger.info({ queue: queue.name }, 'queue resumed outside the dashboard; its recorded pause is cleared');
      } else {
        await queue.pause();
        await markPauseRecorded(queue);
        deps.logger.warn({ queue: queue.name }, 'queue paused again: Redis had lost its pause');
      }
    }
  });
}
