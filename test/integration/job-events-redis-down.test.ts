import { afterAll, beforeAll, expect, it } from 'vitest';
import { finishJob, startJobAttempt } from '../../src/shared/jobs/job-queries.js';
import { baseUrlOf, openEvents } from '../support/event-stream.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// This file stops Redis, so it runs on a redis-server of its own, never on the shared one.
let redis: PrivateRedis;
let ctx: TestContext;
let url: string;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ workers: false, env: { REDIS_URL: redis.url } });
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  url = baseUrlOf(ctx.app.server.address());
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
});

it('keeps an open event stream going from PostgreSQL while Redis is down', { timeout: 60_000 }, async () => {
  const { key } = await ctx.createAccount();
  const upload = await ctx.upload(key, 'ean,name\n4006381333931,Pen\n');
  const { id } = upload.json<{ id: string }>();
  const stream = await openEvents(url, key, id);
  expect((await stream.next())?.job).toMatchObject({ phase: 'queued' });

  await redis.stop();
  try {
    await startJobAttempt(ctx.db, id);
    expect((await stream.next())?.job).toMatchObject({ status: 'processing', phase: 'running' });
    await finishJob(ctx.db, id, { status: 'completed', counts: { rowsCreated: 1, rowsProcessed: 1 } });
    expect(await stream.next()).toMatchObject({ event: 'end', job: { status: 'completed', progress: { rows_created: 1 } } });
    expect(await stream.next()).toBeNull();
  } finally {
    await redis.start();
  }
});
