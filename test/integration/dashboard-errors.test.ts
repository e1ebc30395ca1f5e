import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Worker } from 'bullmq';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { loggerOptions } from '../../src/shared/logger.js';
import { createWorkerConnection } from '../../src/shared/queues.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// This file stops Redis, so it runs on a redis-server of its own, never on the shared one.
let redis: PrivateRedis;
let ctx: TestContext;
let logged = '';

const operator = `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`;
/** Bull Board's own API call behind the dashboard's queue list. */
const listQueues = () => ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: operator } });

/** The log lines written since `from`, parsed. */
const logLinesSince = (from: number) =>
  logged
    .slice(from)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string; reqId?: string; err?: { message: string } });

beforeAll(async () => {
  redis = await startPrivateRedis();
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: redis.url }, logger: pino(loggerOptions('info'), sink) });
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
});

it("answers the dashboard's API with 503 SERVICE_UNAVAILABLE and Retry-After while Redis is unreachable, logged, naming nothing internal", { timeout: 60_000 }, async () => {
  expect((await listQueues()).statusCode).toBe(200);

  await redis.stop();
  try {
    const from = logged.length;
    const response = await listQueues();
    expect(response.statusCode, response.body).toBe(503);
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(response.json()).toEqual({
      error: 'A backing service is unavailable; try again shortly.',
      detail: 'A backing service is unavailable; try again shortly.',
      error_code: 'SERVICE_UNAVAILABLE',
      timestamp: expect.any(String),
      retry_after_seconds: Number(response.headers['retry-after']),
    });
    const failed = logLinesSince(from).find((line) => line.msg === 'request failed');
    expect(failed).toMatchObject({ level: 50, reqId: response.headers['x-request-id'] });
    expect(failed?.err?.message).toBeTruthy();
  } finally {
    await redis.start();
  }
  await waitFor('the dashboard to reach Redis again', async () => ((await listQueues()).statusCode === 200 ? true : undefined), 30_000);
});

it("answers an unexpected failure of the dashboard's API with 500 INTERNAL_ERROR, logged under the request id it carries", async () => {
  vi.spyOn(ctx.queues.queue('import'), 'getJobCounts').mockRejectedValue(new Error('internal detail at /srv/catalog/queues.ts'));
  const from = logged.length;
  const response = await listQueues();
  expect(response.statusCode, response.body).toBe(500);
  expect(response.json()).toEqual({
    error: 'Internal server error.',
    detail: 'Internal server error.',
    error_code: 'INTERNAL_ERROR',
    timestamp: expect.any(String),
  });
  const failed = logLinesSince(from).find((line) => line.msg === 'request failed');
  expect(failed).toMatchObject({ level: 50, reqId: response.headers['x-request-id'], err: { message: 'internal detail at /srv/catalog/queues.ts' } });
});

it("answers BullMQ's refusal of a dashboard action with 422 VALIDATION_ERROR and BullMQ's reason, logged as a refusal, not a failure", async () => {
  // A completed job of the imports queue, taken and ended by hand (this context runs no workers).
  const queue = ctx.queues.queue('import');
  const added = await queue.add('import', { jobId: randomUUID(), run: 1 });
  const connection = createWorkerConnection(redis.url);
  const worker = new Worker(queue.name, undefined, { connection, prefix: queue.opts.prefix, autorun: false });
  try {
    const token = randomUUID();
    const taken = await worker.getNextJob(token);
    expect(taken?.id).toBe(added.id);
    await taken!.moveToCompleted('done', token, false);
  } finally {
    await worker.close();
    connection.disconnect();
  }
  expect(await queue.getJobState(added.id!)).toBe('completed');

  const from = logged.length;
  const response = await ctx.app.inject({ method: 'PUT', url: `/admin/queues/api/queues/imports/${added.id}/promote`, headers: { authorization: operator } });
  expect(response.statusCode, response.body).toBe(422);
  const reason = `Job ${added.id} is not in the delayed state. promote`;
  expect(response.json()).toEqual({ error: reason, detail: reason, error_code: 'VALIDATION_ERROR', timestamp: expect.any(String) });
  const lines = logLinesSince(from);
  expect(lines.find((line) => line.msg === reason)).toMatchObject({ level: 30, reqId: response.headers['x-request-id'] });
  expect(lines.filter((line) => line.level >= 40)).toEqual([]);
  expect(await queue.getJobState(added.id!)).toBe('completed');
});

it("answers a job or queue the dashboard's API does not have with 404 in the envelope, and a read-only queue's action with 422", async () => {
  const missing = randomUUID();
  const answers = await Promise.all(
    [
      { method: 'GET', url: `/admin/queues/api/queues/imports/${missing}` },
      { method: 'PUT', url: `/admin/queues/api/queues/imports/${missing}/promote` },
      { method: 'GET', url: `/admin/queues/api/queues/nope/${missing}` },
      { method: 'PUT', url: '/admin/queues/api/queues/nope/pause' },
      { method: 'PUT', url: '/admin/queues/api/queues/export-schedules/pause' },
    ].map((call) => ctx.app.inject({ ...call, method: call.method as 'GET' | 'PUT', headers: { authorization: operator } })),
  );
  const envelope = (error: string, error_code: string) => ({ error, detail: error, error_code, timestamp: expect.any(String) });
  expect(answers.map((response) => [response.statusCode, response.json()])).toEqual([
    [404, envelope('Job not found.', 'NOT_FOUND')],
    [404, envelope('Job not found.', 'NOT_FOUND')],
    [404, envelope('Queue not found.', 'NOT_FOUND')],
    [404, envelope('Queue not found.', 'NOT_FOUND')],
    [422, envelope('This queue is read-only in the dashboard.', 'VALIDATION_ERROR')],
  ]);
});
