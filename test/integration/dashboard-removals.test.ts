import { DelayedError, Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelChannel } from '../../src/shared/job-control.js';
import { createWorkerConnection, queuePrefix, QUEUE_NAMES, type QueuedJob } from '../../src/shared/queues.js';
import { jobRow, waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The queue dashboard's actions that remove jobs. A job's row in PostgreSQL says what the job is:
 * removing the BullMQ job of a row that still says `processing` would not stop it (the reconciler
 * queues such a row again and it runs), so removing it cancels it, as POST /v1/jobs/{id}/cancel.
 * No workers run here: the jobs stay where the test puts them.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const operator = `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`;
const CSV = 'ean,name\n4006381333931,Pen\n';

/** Bull Board's own API, as its buttons call it. */
const dashboard = (method: 'PUT' | 'POST' | 'PATCH', path: string, payload?: Record<string, unknown>) =>
  ctx.app.inject({ method, url: `/admin/queues/api/queues/imports${path}`, headers: { authorization: operator }, payload });

const importQueue = () => ctx.queues.queue('import');

/** Uploads an import; resolves with its id once it waits in its queue. */
async function queuedImport(key: string): Promise<string> {
  const response = await ctx.upload(key, CSV);
  expect(response.statusCode, response.body).toBe(202);
  const { id } = response.json<{ id: string }>();
  await waitFor(`${id} to wait`, async () => ((await importQueue().getJobState(id)) === 'waiting' ? true : undefined));
  return id;
}

/** A BullMQ worker that is not the service's: it takes the one waiting import and does `take` with it. */
async function takeWaitingImport(take: (job: Job<QueuedJob>, token: string | undefined) => Promise<void>): Promise<Worker<QueuedJob>> {
  const connection = createWorkerConnection(ctx.config);
  const worker = new Worker<QueuedJob>(QUEUE_NAMES.import, take, { connection, prefix: queuePrefix(ctx.config), autorun: false });
  worker.on('closed', () => connection.disconnect());
  void worker.run();
  return worker;
}

/** Puts the one waiting import back as a delayed job, as a worker does with a job whose account has no free slot. */
async function delayWaitingImport(key: string): Promise<string> {
  const id = await queuedImport(key);
  const worker = await takeWaitingImport(async (job, token) => {
    await job.moveToDelayed(Date.now() + 600_000, token);
    throw new DelayedError();
  });
  await waitFor(`${id} to be delayed`, async () => ((await importQueue().getJobState(id)) === 'delayed' ? true : undefined));
  await worker.close();
  return id;
}

const expectCancelled = async (id: string) =>
  expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'cancelled', phase: 'done', error_code: 'JOB_CANCELLED', attempts: 0 });

describe("the queue dashboard's Remove", () => {
  it('cancels a waiting job as POST /v1/jobs/{id}/cancel does: its row ends cancelled and it leaves the queue', async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);

    const response = await dashboard('PUT', `/${id}/clean`);
    expect(response.statusCode, response.body).toBe(204);
    await expectCancelled(id);
    expect(await importQueue().getJobState(id)).toBe('unknown');
    expect((await ctx.get(account.key, `/v1/jobs/${id}`)).json()).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED' });
  });

  it('cancels a running job, and tells the workers to stop it, instead of refusing because a worker holds it', async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    const subscriber = createWorkerConnection(ctx.config);
    const cancels: string[] = [];
    subscriber.on('message', (_channel: string, jobId: string) => cancels.push(jobId));
    await subscriber.subscribe(cancelChannel(ctx.config));
    let release = () => {};
    const worker = await takeWaitingImport(() => new Promise<void>((resolve) => (release = resolve)));
    try {
      await waitFor(`${id} to run`, async () => ((await importQueue().getJobState(id)) === 'active' ? true : undefined));

      const response = await dashboard('PUT', `/${id}/clean`);
      expect(response.statusCode, response.body).toBe(204);
      await expectCancelled(id);
      await waitFor('the cancel to be announced', async () => (cancels.includes(id) ? true : undefined));
    } finally {
      release();
      await worker.close();
      subscriber.disconnect();
    }
  });

  it('removes the BullMQ job of a row that has ended, and leaves the row as it is', async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    await ctx.db.query("UPDATE jobs SET status = 'failed', phase = 'done', error_code = 'IMPORT_FAILED', finished_at = now() WHERE id = $1", [id]);
    const before = await jobRow(ctx.db, id);

    const response = await dashboard('PUT', `/${id}/clean`);
    expect(response.statusCode, response.body).toBe(204);
    expect(await importQueue().getJobState(id)).toBe('unknown');
    expect(await jobRow(ctx.db, id)).toEqual(before);
  });
});

describe("the queue dashboard's bulk removals", () => {
  it('Empty cancels every job waiting in the queue, delayed ones included, and counts them', async () => {
    const account = await ctx.createAccount();
    const delayed = await delayWaitingImport(account.key);
    const waiting = [await queuedImport(account.key), await queuedImport(account.key)];

    const response = await dashboard('PUT', '/empty');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ cancelled: 3, removed: 0, skipped: 0 });
    for (const id of [delayed, ...waiting]) await expectCancelled(id);
    expect(await importQueue().getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({ waiting: 0, delayed: 0, prioritized: 0 });
  });

  it('Clean of the delayed jobs cancels those, and leaves the waiting ones', async () => {
    const account = await ctx.createAccount();
    const delayed = await delayWaitingImport(account.key);
    const waiting = await queuedImport(account.key);

    const response = await dashboard('PUT', '/clean/delayed');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ cancelled: 1, removed: 0, skipped: 0 });
    await expectCancelled(delayed);
    expect((await jobRow(ctx.db, waiting)).status).toBe('processing');
    expect(await importQueue().getJobState(waiting)).toBe('waiting');
    expect((await dashboard('PUT', '/clean/waiting')).json()).toEqual({ cancelled: 1, removed: 0, skipped: 0 });
    await expectCancelled(waiting);
  });
});

describe('the queue dashboard actions that would make jobs the job rows do not know', () => {
  it('refuses Add, Edit data, Obliterate, a queue-wide concurrency and rate limit with 422 and the reason, and changes nothing', async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    await importQueue().pause();
    try {
      const refusals: Array<[Parameters<typeof dashboard>, string]> = [
        [['POST', '/add', { name: 'import', data: { jobId: id }, options: {} }], 'Jobs are started through the API'],
        [['PATCH', `/${id}/update-data`, { jobData: { jobId: '00000000-0000-4000-8000-000000000000' } }], "A job's data is the id and run of its job row"],
        [['PUT', '/obliterate', { force: true }], 'Obliterate is turned off for the job queues'],
        [['PUT', '/concurrency', { concurrency: 1 }], 'A queue-wide concurrency is turned off here'],
        [['PUT', '/rate-limit', { max: 1, duration: 1000 }], 'A queue-wide rate limit is turned off here'],
      ];
      for (const [request, reason] of refusals) {
        const response = await dashboard(...request);
        expect(response.statusCode, request[1]).toBe(422);
        expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: expect.stringContaining(reason) });
      }
      expect(await importQueue().getJobCounts('waiting')).toEqual({ waiting: 1 });
      expect((await importQueue().getJob(id))!.data).toMatchObject({ jobId: id });
      expect(await importQueue().getGlobalConcurrency()).toBeNull();
      expect((await jobRow(ctx.db, id)).status).toBe('processing');
    } finally {
      await importQueue().resume();
    }
    await dashboard('PUT', `/${id}/clean`);
  });
});
