import type { Queue } from 'bullmq';

/**
 * A field of ours in the queue's BullMQ meta hash (`<prefix>:<queue>:meta`, where BullMQ keeps
 * its `paused` field): set while PostgreSQL records a pause of the queue from the dashboard
 * (migration 032) and Redis has taken it. The hash is the queue's own key, so a loss of Redis's
 * data (a flush, an eviction, a failover to an empty replica) takes the field with the pause,
 * while BullMQ's resume (HDEL of `paused` alone) leaves it. So a recorded queue that Redis says is
 * not paused was resumed outside the dashboard when the field is there, and lost its pause when
 * it is not (see restoreQueuePauses).
 */
export const PAUSE_MARKER_FIELD = 'catalog-pause-recorded';

/** The queue whose meta hash is read or written (a BullMQ queue, or Bull Board's copy of one). */
type MetaQueue = Pick<Queue, 'backend' | 'toKey'>;

/** Sets the marker: the queue's pause is recorded, and Redis took it. */
export async function markPauseRecorded(queue: MetaQueue): Promise<void> {
  const client = await queue.backend.client;
  await client.hset(queue.toKey('meta'), { [PAUSE_MARKER_FIELD]: '1' });
}

/** Removes the marker, as a Resume from the dashboard (or a new Pause, before it is recorded) does. */
export async function unmarkPauseRecorded(queue: MetaQueue): Promise<void> {
  const client = await queue.backend.client;
  await client.hdel(queue.toKey('meta'), PAUSE_MARKER_FIELD);
}

/** Whether Redis says the queue is paused, and whether the marker is there: read together. */
export async function pauseMarkState(queue: MetaQueue): Promise<{ paused: boolean; marked: boolean }> {
  const client = await queue.backend.client;
  const [paused, marked] = await client.hmget(queue.toKey('meta'), 'paused', PAUSE_MARKER_FIELD);
  return { paused: paused !== null, marked: marked !== null };
}
