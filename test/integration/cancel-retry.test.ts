import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';
import { keyWithScopes } from '../support/operator-support.js';
import { catalogSnapshot, importHeldHalfWay, jobRow, stagingTablesOf, waitFor } from '../support/recovery-support.js';

/** Rows of the cancelled import, held half-way until the cancel is sent (see importHeldHalfWay). */
const CANCELLED_ROWS = 300_000;

/** The running service: workers on. */
let ctx: TestContext;
/** A service whose workers start only when a test starts them, so jobs stay queued. */
let idle: TestContext;

beforeAll(async () => {
  [ctx, idle] = await Promise.all([createTestContext(), createTestContext({ workers: false })]);
});
afterAll(async () => {
  await Promise.all([ctx?.close(), idle?.close()]);
});

const VALID_CSV = 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n96385074,Notebook,3.00,EUR\n';

async function startImport(context: TestContext, key: string, csv: string | Buffer, query: Record<string, string> = {}) {
  const response = await context.upload(key, csv, query);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

const post = (context: TestContext, key: string, url: string) =>
  context.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}` } });

describe('POST /v1/jobs/{id}/cancel', () => {
  it('cancels a waiting import with JOB_CANCELLED, and it never starts', async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);

    const response = await post(idle, account.key, `/v1/jobs/${id}/cancel`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<JobResource>()).toMatchObject({
      id,
      status: 'cancelled',
      phase: 'done',
      error_code: 'JOB_CANCELLED',
      started_at: null,
      finished_at: expect.any(String),
    });
    expect(await idle.queues.queue('import').getJobState(id)).toBe('unknown');

    const workers = idle.startWorkers();
    try {
      await workers.workers[0]!.waitUntilReady();
      const again = await idle.get(account.key, `/v1/jobs/${id}`);
      expect(again.json<JobResource>()).toMatchObject({ status: 'cancelled', started_at: null });
      expect((await jobRow(idle.db, id)).attempts).toBe(0);
      expect((await catalogSnapshot(idle.db, account.id)).count).toBe(0);
    } finally {
      await workers.close();
      idle.workers = null;
    }
  });

  it('stops a running import at its next chunk, writes nothing and does not retry it', async () => {
    const account = await ctx.createAccount();
    const id = await importHeldHalfWay(ctx, account, CANCELLED_ROWS, async (id) => {
      const response = await post(ctx, account.key, `/v1/jobs/${id}/cancel`);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json<JobResource>()).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED' });
    });

    // The delivery stops well before the file's end: BullMQ records it failed, not retried.
    // The job is read once its state is failed: a copy read before could lack the failed reason.
    const bullJob = await waitFor('the delivery to stop', async () => {
      const queue = ctx.queues.queue('import');
      return (await queue.getJobState(id)) === 'failed' ? await queue.getJob(id) : undefined;
    }, 10_000);
    expect(bullJob.failedReason).toBe('The job was cancelled.');
    expect(bullJob.attemptsMade).toBe(1);
    const row = await jobRow(ctx.db, id);
    expect(row).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED', attempts: 1 });
    expect(Number(row.rows_processed)).toBeLessThan(CANCELLED_ROWS);
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(0);
    expect(await stagingTablesOf(ctx.db, id)).toEqual([]);
  });

  it('returns a finished job unchanged', async () => {
    const account = await ctx.createAccount();
    const done = await ctx.importCsv(account.key, VALID_CSV);
    expect(done.status).toBe('completed');
    const response = await post(ctx, account.key, `/v1/jobs/${done.id}/cancel`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(done);
  });

  it('returns a completed export unchanged, its result link included', async () => {
    const account = await ctx.createAccount();
    const started = await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers: { 'x-api-key': account.key }, payload: { format: 'csv' } });
    const done = await ctx.waitForJob(account.key, started.json<{ id: string }>().id);
    expect(done.links.result).toBe(`/v1/jobs/${done.id}/result`);
    const response = await post(ctx, account.key, `/v1/jobs/${done.id}/cancel`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(done);
  });

  it("needs the job type's write scope", async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);
    const readOnly = await keyWithScopes(idle, account.id, ['jobs:read']);
    const response = await post(idle, readOnly, `/v1/jobs/${id}/cancel`);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error_code: 'PERMISSION_DENIED', error: "This key lacks the 'imports:write' scope." });
    expect((await jobRow(idle.db, id)).status).toBe('processing');
  });

  it("is enough to hold the job type's write scope, without jobs:read", async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);
    const writeOnly = await keyWithScopes(idle, account.id, ['imports:write']);
    const response = await post(idle, writeOnly, `/v1/jobs/${id}/cancel`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ id, status: 'cancelled', error_code: 'JOB_CANCELLED' });
  });

  it("answers 404 for another account's job and for an unknown id", async () => {
    const owner = await idle.createAccount();
    const other = await idle.createAccount();
    const id = await startImport(idle, owner.key, VALID_CSV);
    for (const url of [`/v1/jobs/${id}/cancel`, '/v1/jobs/00000000-0000-4000-8000-000000000000/cancel', '/v1/jobs/nope/cancel']) {
      const response = await post(idle, other.key, url);
      expect(response.statusCode, url).toBe(404);
      expect(response.json().error_code).toBe('NOT_FOUND');
    }
    expect((await jobRow(idle.db, id)).status).toBe('processing');
  });

  it("lets the operator key cancel any account's job", async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);
    const response = await post(idle, ADMIN_KEY, `/v1/jobs/${id}/cancel`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ id, status: 'cancelled', error_code: 'JOB_CANCELLED' });
  });
});

describe('POST /v1/jobs/{id}/retry', () => {
  it('runs a cancelled import again from its stored upload, with exact counts', async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);
    expect((await post(idle, account.key, `/v1/jobs/${id}/cancel`)).statusCode).toBe(200);

    const response = await post(idle, account.key, `/v1/jobs/${id}/retry`);
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toEqual({ id, status: 'processing' });
    expect(response.headers.location).toBe(`/v1/jobs/${id}`);
    expect((await idle.get(account.key, `/v1/jobs/${id}`)).json()).toMatchObject({
      status: 'processing', phase: 'queued', error_code: null, detail: null, finished_at: null,
    });

    idle.startWorkers();
    try {
      const job = await idle.waitForJob(account.key, id);
      expect(job).toMatchObject({ status: 'completed', error_code: null });
      expect(job.progress).toMatchObject({ rows_total: 2, rows_succeeded: 2, rows_created: 2, rows_failed: 0 });
    } finally {
      await idle.workers?.close();
      idle.workers = null;
    }
  });

  it('resumes a cancelled enrichment after the last product its ended run settled, keeping its counts', async () => {
    const account = await ctx.createAccount();
    expect((await ctx.importCsv(account.key, VALID_CSV)).status).toBe('completed');
    const eans = ['4006381333931', '96385074'];
    const started = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: { eans } });
    const id = started.json<{ id: string }>().id;
    const first = await ctx.waitForJob(account.key, id);
    expect(first.progress).toMatchObject({ rows_total: 2, rows_processed: 2 });
    // As if an earlier run had settled one product (changing it) and been cancelled before the other.
    await ctx.db.query(`UPDATE jobs SET status = 'cancelled', error_code = 'JOB_CANCELLED' WHERE id = $1`, [id]);
    await ctx.db.query(`UPDATE enrichment_checkpoints SET position = 1, last_ean = $2, rows_changed = 1, rows_unchanged = 0 WHERE job_id = $1`, [
      id,
      eans[0],
    ]);
    await ctx.db.query('UPDATE products SET derived_at = NULL WHERE account_id = $1', [account.id]);

    const response = await post(ctx, account.key, `/v1/jobs/${id}/retry`);
    expect(response.statusCode, response.body).toBe(202);
    const job = await ctx.waitForJob(account.key, id);
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_total: 2, rows_processed: 2, rows_succeeded: 1, rows_unchanged: 1, rows_failed: 0 });
    const { rows } = await ctx.db.query('SELECT ean FROM products WHERE account_id = $1 AND derived_at IS NOT NULL ORDER BY ean', [account.id]);
    expect(rows.map((row) => row.ean)).toEqual([eans[1]]);
  });

  it('re-runs a failed import, clearing its old report', async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, 'ean,name\n4006381333931,Old pen\n');
    const failed = await ctx.importCsv(account.key, VALID_CSV, { mode: 'create' });
    expect(failed).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    expect((await ctx.get(account.key, `/v1/jobs/${failed.id}/errors`)).json().data).toHaveLength(1);

    // The conflict is gone: the retried create succeeds.
    await ctx.db.query('DELETE FROM products WHERE account_id = $1', [account.id]);
    const response = await post(ctx, account.key, `/v1/jobs/${failed.id}/retry`);
    expect(response.statusCode, response.body).toBe(202);
    const job = await ctx.waitForJob(account.key, failed.id);
    expect(job).toMatchObject({ status: 'completed', error_code: null });
    expect(job.progress).toMatchObject({ rows_total: 2, rows_created: 2, rows_failed: 0 });
    expect((await ctx.get(account.key, `/v1/jobs/${failed.id}/errors`)).json().data).toEqual([]);
  });

  it('refuses a processing job with 409 JOB_NOT_FINISHED and a completed one with 422', async () => {
    const account = await idle.createAccount();
    const waiting = await startImport(idle, account.key, VALID_CSV);
    const busy = await post(idle, account.key, `/v1/jobs/${waiting}/retry`);
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ error_code: 'JOB_NOT_FINISHED', error: 'The job is still processing: cancel it or wait until it ends.' });

    const other = await ctx.createAccount();
    const done = await ctx.importCsv(other.key, VALID_CSV);
    const completed = await post(ctx, other.key, `/v1/jobs/${done.id}/retry`);
    expect(completed.statusCode).toBe(422);
    expect(completed.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      error: 'Only a failed or cancelled job can be retried; this job completed.',
    });
  });

  it("answers 404 for another account's job; the operator key may retry it", async () => {
    const owner = await idle.createAccount();
    const other = await idle.createAccount();
    const id = await startImport(idle, owner.key, VALID_CSV);
    await post(idle, owner.key, `/v1/jobs/${id}/cancel`);
    expect((await post(idle, other.key, `/v1/jobs/${id}/retry`)).statusCode).toBe(404);
    const response = await post(idle, ADMIN_KEY, `/v1/jobs/${id}/retry`);
    expect(response.statusCode, response.body).toBe(202);
  });
});

describe('GET /v1/jobs for operators', () => {
  it('lists the jobs of every account, or of one with account_id', async () => {
    const first = await idle.createAccount();
    const second = await idle.createAccount();
    const a = await startImport(idle, first.key, VALID_CSV);
    const b = await startImport(idle, second.key, VALID_CSV);

    const all = await idle.get(ADMIN_KEY, '/v1/jobs?limit=500');
    expect(all.statusCode, all.body).toBe(200);
    const allIds = all.json<{ data: JobResource[] }>().data.map((job) => job.id);
    expect(allIds).toEqual(expect.arrayContaining([a, b]));

    const one = await idle.get(ADMIN_KEY, `/v1/jobs?account_id=${second.id}`);
    expect(one.json<{ data: JobResource[] }>().data.map((job) => job.id)).toEqual([b]);
  });

  it("opens any account's job and its report with the operator key, as the list links them", async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);
    const listed = (await idle.get(ADMIN_KEY, `/v1/jobs?account_id=${account.id}`)).json<{ data: JobResource[] }>().data[0]!;
    const job = await idle.get(ADMIN_KEY, listed.links.self);
    expect(job.statusCode, job.body).toBe(200);
    expect(job.json()).toEqual(listed);
    const errors = await idle.get(ADMIN_KEY, `/v1/jobs/${id}/errors`);
    expect([errors.statusCode, errors.json()]).toEqual([200, { data: [], next_cursor: null }]);
    for (const unknown of ['00000000-0000-4000-8000-000000000000', 'not-a-job']) {
      expect((await idle.get(ADMIN_KEY, `/v1/jobs/${unknown}`)).json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'Job not found.' });
    }
  });

  it("names each job's account (account_id) to the operator key, and never to the account's own key", async () => {
    const account = await idle.createAccount();
    const id = await startImport(idle, account.key, VALID_CSV);
    const everyAccount = (await idle.get(ADMIN_KEY, '/v1/jobs?limit=500')).json<{ data: JobResource[] }>().data;
    expect(everyAccount.find((job) => job.id === id)).toMatchObject({ account_id: account.id });
    expect((await idle.get(ADMIN_KEY, `/v1/jobs?account_id=${account.id}`)).json<{ data: JobResource[] }>().data).toEqual([
      expect.objectContaining({ id, account_id: account.id }),
    ]);
    expect((await idle.get(ADMIN_KEY, `/v1/jobs/${id}`)).json()).toMatchObject({ id, account_id: account.id });
    const cancelled = await post(idle, ADMIN_KEY, `/v1/jobs/${id}/cancel`);
    expect(cancelled.json()).toMatchObject({ id, status: 'cancelled', account_id: account.id });

    // The account's key reads the resource of API.md: its job, its list, a cancel, its events.
    const own = [
      (await idle.get(account.key, `/v1/jobs/${id}`)).json<Record<string, unknown>>(),
      (await idle.get(account.key, '/v1/jobs')).json<{ data: Array<Record<string, unknown>> }>().data[0]!,
      (await post(idle, account.key, `/v1/jobs/${id}/cancel`)).json<Record<string, unknown>>(),
    ];
    const fields = ['id', 'type', 'status', 'phase', 'error_code', 'detail', 'progress', 'options', 'schedule_id', 'created_at', 'started_at', 'finished_at', 'links'];
    for (const job of own) expect(Object.keys(job)).toEqual(fields);
    expect(own[0]).toMatchObject({ id, status: 'cancelled' });
    const events = await idle.app.inject({ method: 'GET', url: `/v1/jobs/${id}/events`, headers: { authorization: `Bearer ${account.key}` } });
    expect(events.body).toContain('event: end');
    expect(events.body).not.toContain('account_id');
  });

  it('refuses account_id from an account key', async () => {
    const account = await idle.createAccount();
    const response = await idle.get(account.key, `/v1/jobs?account_id=${account.id}`);
    expect(response.statusCode).toBe(403);
    expect(response.json().error_code).toBe('PERMISSION_DENIED');
  });
});
