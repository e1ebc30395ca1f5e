import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { scheduleCallbackDelivery, type CallbackDeps } from '../../src/workers/callbacks/deliver-callbacks.js';
import { Receiver } from '../support/callback-receiver.js';
import { spawnWorker, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A worker that stops (every deploy restarts them) while it sends a callback waits for the receiver's
 * answer and records it, so the receiver does not get the callback again once the claim's lease ends.
 */
const SECRET = 'callback-secret-0123456789';
const VALID_CSV = 'ean,name\n4006381333931,Pen\n';
/** How long the receiver takes to answer: well within the 10 s delivery timeout. */
const ANSWER_MS = 3_000;

let ctx: TestContext;
let worker: WorkerChild | undefined;
const receiver = new Receiver(ANSWER_MS);

beforeAll(async () => {
  await receiver.start();
  ctx = await createTestContext({
    workers: false,
    env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'true', SHUTDOWN_GRACE_MS: '500' },
  });
});
afterAll(async () => {
  if (worker && worker.process.exitCode === null && worker.process.signalCode === null) {
    worker.process.kill('SIGKILL');
    await worker.exited;
  }
  await ctx?.close();
  await receiver.close();
});

interface CallbackState {
  attempts: number;
  delivered: boolean;
  /** Whether a further attempt (or the end of a claim's lease) is still to come. */
  pending: boolean;
}

async function callbackState(jobId: string): Promise<CallbackState> {
  const { rows } = await ctx.db.query<CallbackState>(
    `SELECT callback_attempts AS attempts, callback_delivered_at IS NOT NULL AS delivered, callback_next_at IS NOT NULL AS pending
       FROM jobs WHERE id = $1`,
    [jobId],
  );
  return rows[0]!;
}

const deliveriesOf = (jobId: string) => receiver.deliveries.filter((delivery) => delivery.headers['x-job-id'] === jobId);

const deliveryDeps = (): CallbackDeps => ({
  db: ctx.db,
  logger: createLogger('silent'),
  fallbackSecret: SECRET,
  allowPrivate: true,
  resolveHost: async () => [],
  pollMs: 100,
});

describe('a callback being sent when its worker stops', () => {
  it('is answered and recorded delivered once before the deliverer has stopped, and not sent again after its lease', async () => {
    const { key } = await ctx.createAccount();
    const response = await ctx.upload(key, VALID_CSV, { callback_url: receiver.url('/slow/deliverer') });
    expect(response.statusCode).toBe(202);
    const jobId = response.json<{ id: string }>().id;
    await ctx.db.query("UPDATE jobs SET status = 'completed', phase = 'done', finished_at = now() WHERE id = $1", [jobId]);

    const stop = scheduleCallbackDelivery(deliveryDeps());
    await waitFor('the receiver to get the callback', async () => (deliveriesOf(jobId).length > 0 ? true : undefined), 15_000);
    await stop();
    expect(await callbackState(jobId)).toEqual({ attempts: 1, delivered: true, pending: false });

    // Whatever claim is left runs out now: a worker that looks again finds nothing to send.
    await ctx.db.query('UPDATE jobs SET callback_next_at = now() WHERE id = $1 AND callback_next_at IS NOT NULL', [jobId]);
    const stopAgain = scheduleCallbackDelivery(deliveryDeps());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await stopAgain();
    expect(deliveriesOf(jobId)).toHaveLength(1);
    expect(await callbackState(jobId)).toEqual({ attempts: 1, delivered: true, pending: false });
  }, 30_000);

  it('is answered and recorded delivered once before a ROLE=worker process told to stop exits', async () => {
    const { key } = await ctx.createAccount();
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/exports',
      headers: { 'x-api-key': key },
      payload: { format: 'csv', callback_url: receiver.url('/slow/u1') },
    });
    expect(response.statusCode).toBe(202);
    const jobId = response.json<{ id: string }>().id;

    const child = spawnWorker({ ...ctx.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    worker = child;
    await waitFor('the receiver to get the callback', async () => {
      if (child.process.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
      return deliveriesOf(jobId).length > 0 ? true : undefined;
    }, 60_000, 50);
    const signalled = Date.now();
    child.process.kill('SIGTERM');
    expect(await child.exited, child.output()).toBe('exit 0');
    // It waited for the receiver's answer, not for the delivery timeout.
    expect(Date.now() - signalled).toBeLessThan(9_000);
    expect(await callbackState(jobId)).toEqual({ attempts: 1, delivered: true, pending: false });
    expect(deliveriesOf(jobId)).toHaveLength(1);
  }, 90_000);
});
