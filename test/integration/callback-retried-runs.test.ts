import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { createLogger } from '../../src/shared/logger.js';
import { deliverDueCallbacks } from '../../src/workers/callbacks/deliver-callbacks.js';
import { callbackStateOf, markJobEnded } from '../support/callback-delivery.js';
import { Receiver } from '../support/callback-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// README "Job callbacks": a retried job's receiver hears of the retried run's end, never of a
// `failed` or `cancelled` the job has left after it.

const SECRET = 'callback-secret-0123456789';
const PEN = '4006381333931';
/** How long the receiver takes to act on a `failed` callback before it answers. */
const SLOW_ON_FAILED_MS = 4_000;

describe('a job retried while its failed run is still being called back', () => {
  let ctx: TestContext;
  let receiver: Server;
  /** Each callback's status when it arrived, and when the receiver had handled it and answered. */
  const arrived: string[] = [];
  const answered: Array<{ status: string; at: number }> = [];

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const { status } = JSON.parse(body) as { status: string };
        arrived.push(status);
        setTimeout(
          () => {
            answered.push({ status, at: Date.now() });
            response.end();
          },
          status === 'failed' ? SLOW_ON_FAILED_MS : 0,
        );
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    ctx = await createTestContext({
      env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'true', CALLBACK_RETRY_BASE_SECONDS: '0.2' },
    });
  });
  afterAll(async () => {
    receiver?.closeAllConnections();
    await ctx?.close();
    receiver?.close();
  });

  it("calls back the new run's end only after the old run's callback was answered, and soon after", async () => {
    const { key } = await ctx.createAccount();
    const seeded = await ctx.importCsv(key, `ean,name\n${PEN},Pen\n`);
    expect(seeded.status).toBe('completed');
    // mode=create fails on the EAN the catalog holds: the import fails and calls back.
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const failed = await ctx.importCsv(key, `ean,name\n${PEN},Pen again\n`, { mode: 'create', callback_url: url });
    expect(failed.status).toBe('failed');
    await expect.poll(() => arrived, { timeout: 10_000, interval: 20 }).toEqual(['failed']);

    // The receiver is still handling that callback: the client fixes the data and retries.
    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/v1/products/${PEN}`, headers: { 'x-api-key': key } });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const retried = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${failed.id}/retry`, headers: { 'x-api-key': key } });
    expect(retried.statusCode, retried.body).toBe(202);
    expect((await ctx.waitForJob(key, failed.id)).status).toBe('completed');

    await expect.poll(() => answered.length, { timeout: 15_000, interval: 20 }).toBe(2);
    expect(arrived).toEqual(['failed', 'completed']);
    expect(answered.map((each) => each.status)).toEqual(['failed', 'completed']);
    // Held back only while the old delivery was on its way, not for the rest of its claim's lease.
    expect(answered[1]!.at - answered[0]!.at).toBeLessThan(3_000);
    await expect.poll(() => callbackStateOf(ctx.db, failed.id), { timeout: 5_000 }).toMatchObject({ attempts: 1, delivered: true });
  });
});

describe('a job retried between the claim of its callback and the send', () => {
  let ctx: TestContext;
  const receiver = new Receiver();
  const logger = createLogger('silent');

  beforeAll(async () => {
    await receiver.start();
    ctx = await createTestContext({ workers: false, env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.close();
  });

  /** The workers' pool, with `afterClaim` run as soon as a claim of deliveries has committed. */
  function claimsFollowedBy(afterClaim: () => Promise<void>): Db {
    return new Proxy(ctx.db, {
      get(target, property, receiverObject) {
        if (property !== 'query') return Reflect.get(target, property, receiverObject);
        return async (...args: Parameters<Db['query']>) => {
          const result = await (target.query as (...a: unknown[]) => Promise<unknown>)(...args);
          if (typeof args[0] === 'string' && args[0].startsWith('UPDATE jobs SET callback_next_at = now()')) await afterClaim();
          return result;
        };
      },
    });
  }

  it("sends nothing of the run it left, and calls back the new run's end at once", async () => {
    const { key } = await ctx.createAccount();
    const response = await ctx.upload(key, `ean,name\n${PEN},Pen\n`, { callback_url: receiver.url() });
    expect(response.statusCode).toBe(202);
    const id = response.json<{ id: string }>().id;
    await ctx.db.query("UPDATE jobs SET status = 'failed', phase = 'done', error_code = 'IMPORT_FAILED', finished_at = now() WHERE id = $1", [id]);
    const retry = async () => {
      const retried = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/retry`, headers: { 'x-api-key': key } });
      expect(retried.statusCode, retried.body).toBe(202);
    };

    const deps = { logger, fallbackSecret: SECRET, allowPrivate: true, resolveHost: async () => [] };
    expect(await deliverDueCallbacks({ ...deps, db: claimsFollowedBy(retry) })).toBe(1);
    // The job was processing again by the time of the send: not called back with that.
    expect(receiver.deliveries).toEqual([]);

    await markJobEnded(ctx.db, id);
    expect(await deliverDueCallbacks({ ...deps, db: ctx.db })).toBe(1);
    expect(receiver.deliveries.map((delivery) => JSON.parse(delivery.body).status)).toEqual(['completed']);
    expect(await callbackStateOf(ctx.db, id)).toEqual({ attempts: 1, last_error: null, delivered: true, given_up: null });
  });
});
