import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';
import { jobRow, waitFor } from '../support/recovery-support.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.close();
});

const VALID_CSV = 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n96385074,Notebook,3.00,EUR\n';
const operator = `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`;

/** Bull Board's own API call behind its Retry button. */
const dashboardRetry = (id: string) =>
  ctx.app.inject({ method: 'PUT', url: `/admin/queues/api/queues/imports/${id}/retry`, headers: { authorization: operator } });

/** The BullMQ job of `id` once its delivery has ended in `state` (the row ends a moment before). */
const deliveryEnded = (id: string, state: 'completed' | 'failed') =>
  waitFor(`the delivery of ${id} to be ${state}`, async () =>
    (await ctx.queues.queue('import').getJobState(id)) === state ? true : undefined,
  10_000);

/** An import that fails on a data problem: `mode=create` of an EAN the catalog already has. */
async function failedImport(): Promise<{ account: { id: string; key: string }; failed: JobResource }> {
  const account = await ctx.createAccount();
  await ctx.importCsv(account.key, 'ean,name\n4006381333931,Old pen\n');
  const failed = await ctx.importCsv(account.key, VALID_CSV, { mode: 'create' });
  expect(failed).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
  await deliveryEnded(failed.id, 'failed');
  return { account, failed };
}

describe("the queue dashboard's retry", () => {
  it('runs a failed import again from its stored upload, like POST /v1/jobs/{id}/retry', async () => {
    const { account, failed } = await failedImport();
    const before = await jobRow(ctx.db, failed.id);
    expect((await ctx.get(account.key, `/v1/jobs/${failed.id}/errors`)).json().data).toHaveLength(1);

    // The conflict is gone: the retried create succeeds.
    await ctx.db.query('DELETE FROM products WHERE account_id = $1', [account.id]);
    const response = await dashboardRetry(failed.id);
    expect(response.statusCode, response.body).toBe(204);

    const job = await ctx.waitForJob(account.key, failed.id);
    expect(job).toMatchObject({ id: failed.id, status: 'completed', error_code: null });
    expect(job.progress).toMatchObject({ rows_total: 2, rows_created: 2, rows_failed: 0 });
    expect((await ctx.get(account.key, `/v1/jobs/${failed.id}/errors`)).json().data).toEqual([]);
    const after = await jobRow(ctx.db, failed.id);
    expect(after.attempts).toBe(1);
    expect(new Date(after.started_at!).getTime()).toBeGreaterThan(new Date(before.started_at!).getTime());
    await deliveryEnded(failed.id, 'completed');
  });

  it('answers 422 with the reason for a completed job, and leaves it as it is', async () => {
    const account = await ctx.createAccount();
    const done = await ctx.importCsv(account.key, VALID_CSV);
    expect(done.status).toBe('completed');
    await deliveryEnded(done.id, 'completed');
    const before = await jobRow(ctx.db, done.id);

    const response = await dashboardRetry(done.id);
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: 'Only a failed or cancelled job can be retried; this job completed.' });
    expect(await jobRow(ctx.db, done.id)).toEqual(before);
    expect(await ctx.queues.queue('import').getJobState(done.id)).toBe('completed');
  });

  it('needs the operator login', async () => {
    const { failed } = await failedImport();
    const response = await ctx.app.inject({ method: 'PUT', url: `/admin/queues/api/queues/imports/${failed.id}/retry` });
    expect(response.statusCode).toBe(401);
    expect((await jobRow(ctx.db, failed.id)).status).toBe('failed');
  });

  it('leaves BullMQ redeliveries of an ended row alone: only an explicit retry runs it again', async () => {
    const { failed } = await failedImport();
    const before = await jobRow(ctx.db, failed.id);

    // BullMQ's own retry, as any tool other than the dashboard would do it: the delivery does nothing.
    await (await ctx.queues.queue('import').getJob(failed.id))!.retry('failed');
    await deliveryEnded(failed.id, 'completed');
    expect(await jobRow(ctx.db, failed.id)).toEqual(before);
  });

  it('runs every failed job of a queue again with Retry all', async () => {
    const { account, failed } = await failedImport();
    await ctx.db.query('DELETE FROM products WHERE account_id = $1', [account.id]);

    const response = await ctx.app.inject({ method: 'PUT', url: '/admin/queues/api/queues/imports/retry/failed', headers: { authorization: operator } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().retried).toBeGreaterThanOrEqual(1);
    expect(await ctx.waitForJob(account.key, failed.id)).toMatchObject({ status: 'completed', error_code: null });
  });

  it('skips a job it refuses in Retry all, runs every other failed job once, and counts both', async () => {
    // Only this test's failed jobs: the earlier tests leave some of theirs in the queue, and the
    // Retry all before this one may still be running them.
    const queue = ctx.queues.queue('import');
    await waitFor('the earlier runs to end', async () => {
      const counts = await queue.getJobCounts('active', 'waiting', 'delayed');
      return counts.active! + counts.waiting! + counts.delayed! === 0 ? true : undefined;
    });
    await queue.clean(0, 1000, 'failed');
    const imports = [await failedImport(), await failedImport(), await failedImport()];
    const [refused, ...retryable] = imports.map(({ failed }) => failed.id);
    for (const { account } of imports) await ctx.db.query('DELETE FROM products WHERE account_id = $1', [account.id]);
    // As the upload retention leaves an old import: its row stays, its file is gone.
    await ctx.db.query('UPDATE jobs SET input_path = NULL WHERE id = $1', [refused]);
    const refusedBefore = await jobRow(ctx.db, refused!);

    const response = await ctx.app.inject({ method: 'PUT', url: '/admin/queues/api/queues/imports/retry/failed', headers: { authorization: operator } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ retried: 2, skipped: 1 });

    for (const [index, id] of retryable.entries()) {
      expect(await ctx.waitForJob(imports[index + 1]!.account.key, id)).toMatchObject({ status: 'completed', error_code: null });
      await deliveryEnded(id, 'completed');
    }
    const { rows } = await ctx.db.query<{ id: string; run_number: number }>('SELECT id, run_number FROM jobs WHERE id = ANY($1) ORDER BY id', [retryable]);
    expect(rows.map((row) => row.run_number)).toEqual([2, 2]);
    expect(await jobRow(ctx.db, refused!)).toEqual(refusedBefore);
    expect(await queue.getJobState(refused!)).toBe('failed');

    // Its own Retry still answers the reason.
    const single = await dashboardRetry(refused!);
    expect(single.statusCode, single.body).toBe(422);
    expect(single.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: "The job's upload is no longer stored; upload the file again." });
  });
});
