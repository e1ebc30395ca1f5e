import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import { credentialChannel } from '../../src/shared/accounts/credential-changes.js';
import { createLogger } from '../../src/shared/logger.js';
import { createProducerConnection, waitUntilReady } from '../../src/shared/queues.js';
import type { RedisConnection } from '../../src/shared/redis-connection.js';
import { baseUrlOf, openEvents, type OpenEventStream } from '../support/event-stream.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// An event stream stays open for a job's whole run: a key revoked, expired or suspended meanwhile
// must end it as it refuses the key's next request. Two API processes (the context's app, "A",
// and "B") share one database and one Redis, on which they announce credential changes. This
// file cuts Redis's subscriber connections, so it runs on a redis-server of its own.

let redis: PrivateRedis;
let ctx: TestContext;
let b: { app: FastifyInstance; redis: RedisConnection };
let urlA: string;
let urlB: string;

beforeAll(async () => {
  redis = await startPrivateRedis();
  // No workers: an accepted import stays processing, so its stream stays open.
  // The credential cache on, as deployed: a stream may be opened with a key resolved from it.
  const env = { REDIS_URL: redis.url, JOB_EVENTS_HEARTBEAT_SECONDS: '1', AUTH_CACHE_TTL_MS: '1000' };
  ctx = await createTestContext({ workers: false, env });
  const connection = createProducerConnection(ctx.config.REDIS_URL);
  await waitUntilReady(connection);
  const app = await buildApp({
    config: ctx.config, db: ctx.apiDb, redis: connection, queues: ctx.queues, uploads: ctx.uploads, logger: createLogger('silent'),
  });
  b = { app, redis: connection };
  await Promise.all([ctx.app.listen({ port: 0, host: '127.0.0.1' }), b.app.listen({ port: 0, host: '127.0.0.1' })]);
  urlA = baseUrlOf(ctx.app.server.address());
  urlB = baseUrlOf(b.app.server.address());
  await subscribers(2);
});
afterAll(async () => {
  await b?.app.close();
  b?.redis.disconnect();
  await ctx?.close();
  await redis?.stop();
});

/** Waits until `count` API processes listen for credential changes. */
async function subscribers(count: number): Promise<void> {
  await waitFor(`${count} credential-change subscribers`, async () => {
    const [, listening] = (await ctx.redis.pubsub('NUMSUB', credentialChannel(ctx.config))) as [string, number];
    return Number(listening) >= count ? true : undefined;
  }, 10_000);
}

/** A second key of the account of `key` (the same scopes). */
async function secondKey(key: string, payload: object = {}): Promise<{ id: string; key: string }> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': key }, payload: { name: 'stream', ...payload } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

/** An import that stays processing (no workers), uploaded with `key`. */
async function processingJob(key: string): Promise<string> {
  const response = await ctx.upload(key, 'ean,name\n4006381333931,Pen\n');
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/** Opens the job's stream at `baseUrl` with `key` and reads its first state. */
async function openedStream(baseUrl: string, key: string, jobId: string): Promise<OpenEventStream> {
  const stream = await openEvents(baseUrl, key, jobId);
  expect(stream.response.status).toBe(200);
  expect(await stream.next()).toMatchObject({ event: 'job', job: { id: jobId, status: 'processing' } });
  return stream;
}

/** The next event, which must be the `error` that ends the stream, and how long it took from `since`. */
async function refusalOf(stream: OpenEventStream, since: number): Promise<{ body: Record<string, unknown>; afterMs: number }> {
  const event = await stream.next();
  const afterMs = Date.now() - since;
  expect(event?.event).toBe('error');
  expect(await stream.next()).toBeNull();
  return { body: JSON.parse(event!.data) as Record<string, unknown>, afterMs };
}

describe('an open event stream whose key stops working', { timeout: 10_000 }, () => {
  it('ends at once with 401 INVALID_API_KEY when the key is revoked on another API process', async () => {
    const account = await ctx.createAccount();
    const doomed = await secondKey(account.key);
    const jobId = await processingJob(account.key);
    const revokedStream = await openedStream(urlB, doomed.key, jobId);
    const ownerStream = await openedStream(urlB, account.key, jobId);

    const revokedAt = Date.now();
    const revoked = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${doomed.id}`, headers: { 'x-api-key': account.key } });
    expect(revoked.statusCode).toBe(204);
    const { body, afterMs } = await refusalOf(revokedStream, revokedAt);

    expect(body).toMatchObject({ status: 401, error_code: 'INVALID_API_KEY', error: 'Invalid API key.', detail: 'Invalid API key.' });
    expect(body.timestamp).toEqual(expect.any(String));
    expect(afterMs).toBeLessThan(1_000);
    // Reconnecting gets the same answer, and the account's other key keeps its stream.
    const resumed = await openEvents(urlB, doomed.key, jobId, '1');
    expect(resumed.response.status).toBe(401);
    expect(await resumed.response.json()).toMatchObject({ error_code: 'INVALID_API_KEY' });
    // Left open: B ends it as it closes (an aborted fetch leaves B a connection that holds its close for a minute).
    expect(await ownerStream.nextComment()).toBe('keep-alive');
  });

  it('ends at once with 403 ACCOUNT_SUSPENDED when an operator suspends the account', async () => {
    const account = await ctx.createAccount();
    const jobId = await processingJob(account.key);
    const onA = await openedStream(urlA, account.key, jobId);
    const onB = await openedStream(urlB, account.key, jobId);

    const suspendedAt = Date.now();
    const suspended = await ctx.app.inject({
      method: 'POST', url: `/v1/admin/accounts/${account.id}/suspend`, headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(suspended.statusCode).toBe(200);

    for (const stream of [onA, onB]) {
      const { body, afterMs } = await refusalOf(stream, suspendedAt);
      expect(body).toMatchObject({ status: 403, error_code: 'ACCOUNT_SUSPENDED', error: 'Account suspended.' });
      expect(afterMs).toBeLessThan(1_000);
    }
    expect((await openEvents(urlA, account.key, jobId)).response.status).toBe(403);
  });

  it('ends with 401 API_KEY_EXPIRED when the key expires', async () => {
    const account = await ctx.createAccount();
    const short = await secondKey(account.key);
    const jobId = await processingJob(account.key);
    await ctx.db.query(`UPDATE api_keys SET expires_at = now() + interval '1200 milliseconds' WHERE id = $1`, [short.id]);
    const stream = await openedStream(urlA, short.key, jobId);
    const { rows } = await ctx.db.query<{ expires_at: Date }>('SELECT expires_at FROM api_keys WHERE id = $1', [short.id]);

    const { body } = await refusalOf(stream, Date.now());
    expect(body).toMatchObject({ status: 401, error_code: 'API_KEY_EXPIRED', error: 'API key expired.' });
    expect(Date.now()).toBeGreaterThanOrEqual(rows[0]!.expires_at.getTime());
    expect(Date.now() - rows[0]!.expires_at.getTime()).toBeLessThan(1_000);
  });

  it('ends too when the change was missed while the subscription was cut', async () => {
    const account = await ctx.createAccount();
    const jobId = await processingJob(account.key);
    const stream = await openedStream(urlB, account.key, jobId);
    // A change no process announces, then the subscriptions drop: what they may have missed is read again.
    await ctx.db.query('UPDATE accounts SET suspended = true WHERE id = $1', [account.id]);
    const cutAt = Date.now();
    await ctx.redis.client('KILL', 'TYPE', 'pubsub');

    const { body, afterMs } = await refusalOf(stream, cutAt);
    expect(body).toMatchObject({ status: 403, error_code: 'ACCOUNT_SUSPENDED' });
    expect(afterMs).toBeLessThan(3_000);
    await subscribers(2);
  });
});
