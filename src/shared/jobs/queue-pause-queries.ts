import { withTransaction, type Db } from '../db/pool.js';

/**
 * Records that an operator paused the queues `queues` (BullMQ queue names) from the dashboard. A
 * queue already recorded keeps its row, and its time.
 */
export async function recordQueuePauses(db: Db, queues: readonly string[]): Promise<void> {
  await db.query('INSERT INTO queue_pauses (queue) SELECT unnest($1::text[]) ON CONFLICT (queue) DO NOTHING', [queues]);
}

/**
 * Forgets the pauses of `queues`, as a Resume from the dashboard does. Waits for a reconciler pass
 * that holds their rows ({@link withRecordedPauses}), so the queue it may be pausing again is
 * resumed after it, not before.
 */
export async function clearQueuePauses(db: Db, queues: readonly string[]): Promise<void> {
  await db.query('DELETE FROM queue_pauses WHERE queue = ANY($1::text[])', [queues]);
}

/**
 * Runs `work` with the names of the queues recorded as paused, their rows locked (FOR SHARE) until
 * it ends: a Resume's {@link clearQueuePauses} waits meanwhile, so what `work` does on the
 * strength of a pause is not done after the operator resumed. A Pause meanwhile does not wait.
 */
export function withRecordedPauses<T>(db: Db, work: (queues: ReadonlySet<string>) => Promise<T>): Promise<T> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<{ queue: string }>('SELECT queue FROM queue_pauses FOR SHARE');
    return work(new Set(rows.map((row) => row.queue)));
  });
}
