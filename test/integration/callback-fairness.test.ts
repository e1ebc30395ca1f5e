import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { scheduleCallbackDelivery } from '../../src/workers/callbacks/deliver-callbacks.js';
import { Receiver } from '../support/callback-receiver.js';
import { waitFor } from '../support/recovery-support.js';
import { StallingReceiver } from '../support/stalling-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

const SECRET = 'callback-secret-0123456789';
const VALID_CSV = 'ean,name\n4006381333931,Pen\n';
/** The delivery timeout of these tests: a callback waiting behind a stalled receiver's attempts waits at least this long. */
const TIMEOUT_MS = 3_000;
/** How soon a callback to a receiver that answers at once arrives while the slots are shared fairly. */
const PROMPT_MS = 1_500;

describe('callback delivery slots shared between accounts and receivers', () => {
  let ctx: TestContext;
  const logger = createLogger('silent');

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false, env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => ctx?.close());

  /** Accepts one import per URL (not run: the test ends them itself) and answers their ids. */
  async function importsCallingBack(key: string, urls: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const url of urls) {
      const response = await ctx.upload(key, VALID_CSV, { callback_url: url });
      expect(response.statusCode).toBe(202);
      ids.push(response.json<{ id: string }>().id);
    }
    return ids;
  }

  /** Ends the jobs, so their callbacks are due now. */
  const endJobs = (ids: string[]) =>
    ctx.db.query("UPDATE jobs SET status = 'completed', phase = 'done', finished_at = now() WHERE id = ANY($1::uuid[])", [ids]);

  /** A worker process's callback delivery, with the timeout of these tests. */
  const deliverInBackground = () =>
    scheduleCallbackDelivery({
      db: ctx.db,
      logger,
      fallbackSecret: SECRET,
      allowPrivate: true,
      resolveHost: async () => [],
      pollMs: 100,
      retryBaseSeconds: 0.2,
      timeoutMs: TIMEOUT_MS,
    });

  /** Ends the job and answers how many milliseconds later its callback reached `receiver`. */
  async function msUntilDelivered(id: string, receiver: Receiver): Promise<number> {
    const ended = Date.now();
    await endJobs([id]);
    await waitFor(`the callback of job ${id}`, async () => receiver.deliveries.find((delivery) => delivery.headers['x-job-id'] === id), 30_000);
    return Date.now() - ended;
  }

  async function untilAllDelivered(ids: string[]): Promise<void> {
    await waitFor(
      'every callback delivered',
      async () => {
        const { rows } = await ctx.db.query<{ delivered: number }>(
          'SELECT count(*)::int AS delivered FROM jobs WHERE id = ANY($1::uuid[]) AND callback_delivered_at IS NOT NULL',
          [ids],
        );
        return rows[0]!.delivered === ids.length || undefined;
      },
      30_000,
    );
  }

  it("delivers another account's callback at once while one account's receivers stall, and the stalled ones once they answer", async () => {
    const stalled = new StallingReceiver(6);
    const fast = new Receiver();
    await Promise.all([stalled.start(), fast.start()]);
    const stop = deliverInBackground();
    try {
      const flooding = (await ctx.createAccount()).key;
      const waiting = (await ctx.createAccount()).key;
      const flood = await importsCallingBack(flooding, Array.from({ length: 60 }, (_, index) => stalled.url(index % 6)));
      const [other] = await importsCallingBack(waiting, [fast.url()]);
      await endJobs(flood);
      await waitFor('the flood taking its slots', async () => stalled.holding >= 10 || undefined);

      expect(await msUntilDelivered(other!, fast)).toBeLessThan(PROMPT_MS);
      // One account holds at most 10 of the process's 20 slots, whichever receivers it calls.
      expect(stalled.mostHeld).toBeLessThanOrEqual(10);

      // Once its receivers answer, each of the account's callbacks is delivered, exactly once.
      stalled.recover();
      await untilAllDelivered(flood);
      expect([...stalled.accepted].sort()).toEqual([...flood].sort());
      const { rows } = await ctx.db.query<{ attempts: number }>('SELECT callback_attempts AS attempts FROM jobs WHERE id = ANY($1::uuid[])', [flood]);
      // The attempts the stalled receivers took were retried, per the usual rules.
      expect(rows.filter((row) => row.attempts > 1).length).toBeGreaterThanOrEqual(10);
    } finally {
      stop();
      await Promise.all([stalled.close(), fast.close()]);
    }
  });

  it("delivers an account's callback to one receiver at once while its callbacks to another receiver stall", async () => {
    const stalled = new StallingReceiver();
    const fast = new Receiver();
    await Promise.all([stalled.start(), fast.start()]);
    const stop = deliverInBackground();
    try {
      const key = (await ctx.createAccount()).key;
      const backlog = await importsCallingBack(key, Array.from({ length: 30 }, () => stalled.url()));
      const [elsewhere] = await importsCallingBack(key, [fast.url()]);
      await endJobs(backlog);
      await waitFor('the backlog taking its slots', async () => stalled.holding >= 4 || undefined);

      expect(await msUntilDelivered(elsewhere!, fast)).toBeLessThan(PROMPT_MS);
      // One receiver holds at most 4 of the process's slots.
      expect(stalled.mostHeld).toBeLessThanOrEqual(4);

      stalled.recover();
      await untilAllDelivered(backlog);
      expect([...stalled.accepted].sort()).toEqual([...backlog].sort());
    } finally {
      stop();
      await Promise.all([stalled.close(), fast.close()]);
    }
  });

  it('delivers the many callbacks of a lone account to a receiver that answers at once promptly', async () => {
    const fast = new Receiver();
    await fast.start();
    const stop = deliverInBackground();
    try {
      const key = (await ctx.createAccount()).key;
      const jobs = await importsCallingBack(key, Array.from({ length: 100 }, () => fast.url()));
      const ended = Date.now();
      await endJobs(jobs);
      await untilAllDelivered(jobs);
      expect(Date.now() - ended).toBeLessThan(5_000);
      expect(fast.deliveries.map((delivery) => String(delivery.headers['x-job-id'])).sort()).toEqual([...jobs].sort());
    } finally {
      stop();
      await fast.close();
    }
  });
});
