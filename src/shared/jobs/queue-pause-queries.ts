import { withTransaction, type Db } from '../db/pool.js';

/**
 * Records that an operator paused the queues `queues` (BullMQ queue names) from the dashboard. A
 * queue already recorded keeps its row, and its time. Waits for a reconciler pass that holds the
 * row ({@link withRecordedPauses}): that pass may be clearing it (the queue was resumed outside
 * the dashboard), and this pause is recorded after it, not lost in it.
 */
export async function recordQueuePauses(db: Db, queues: readonly string[]): Promise<void> {
  await db.query(
    'INSERT INTO queue_pauses (queue) SELECT unnest($1::text[]) ON CONFLICT (queue) DO UPDATE SET paused_at = queue_pauses.paused_at',
    [queues],
  );
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
 * it ends: a Resume's {@link clearQueuePauses} and a Pause's {@link recordQueuePauses} wait
 * meanwhile, so what `work` does on the strength of a pause is not done after the operator
 * resumed, nor is a new pause cleared with an old one. `work` may forget a queue's pause with
 * `clear` (in the same transaction: it takes effect when `work` ends).
 */
export function withRecordedPauses<T>(db: Db, work: (queues: ReadonlySet<string>, clear: (queue: string) => Promise<void>) => Promise<T>): Promise<T> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<{ queue: string }>('SELECT queue FROM queue_pauses FOR SHARE');
    const clear = async (queue: string) => void (await client.query('DELETE FROM queue_pauses WHERE queue = $1', [queue]));
    return work(new Set(rows.map((row) => row.queue)), clear);
  });
}
