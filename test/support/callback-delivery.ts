import { createHmac } from 'node:crypto';
import type { Db } from '../../src/shared/db/pool.js';
import type { Delivery } from './callback-receiver.js';

/** Ends a job in the database, so its callback is due without running it (tests that drive delivery themselves). */
export async function markJobEnded(db: Db, id: string): Promise<void> {
  await db.query("UPDATE jobs SET status = 'completed', phase = 'done', finished_at = now() WHERE id = $1", [id]);
}

/** The delivery state of a job's callback as the outbox records it. */
export async function callbackStateOf(db: Db, id: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query(
    `SELECT callback_attempts AS attempts, callback_last_error AS last_error,
            callback_delivered_at IS NOT NULL AS delivered, callback_next_at = 'infinity' AS given_up
     FROM jobs WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** For each `v1=` of the delivery's X-Signature, the secret among `secrets` it verifies with (or null). */
export function signersOf(delivery: Delivery, secrets: Record<string, string>): Array<string | null> {
  const parts = String(delivery.headers['x-signature']).split(',');
  const timestamp = /^t=(\d+)$/.exec(parts[0] ?? '')?.[1];
  if (!timestamp) throw new Error(`no timestamp in X-Signature ${String(delivery.headers['x-signature'])}`);
  return parts.slice(1).map((part) => {
    const digest = /^v1=([0-9a-f]{64})$/.exec(part)?.[1];
    const signer = Object.entries(secrets).find(
      ([, secret]) => createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex') === digest,
    );
    return signer ? signer[0] : null;
  });
}
