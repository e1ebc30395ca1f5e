import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { catalogSnapshot, importHeldHalfWay, jobRow, waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// A suspended account's jobs do not start: a delivery of one is held in its queue (no attempt
// used up, phase `queued`, a detail saying why) until the account is unsuspended. A job that had
// started before the suspension runs to its end.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const operator = (method: 'GET' | 'POST', url: string) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_KEY}` } });

async function setSuspended(accountId: string, suspended: boolean): Promise<void> {
  const response = await operator('POST', `/v1/admin/accounts/${accountId}/${suspended ? 'suspend' : 'unsuspend'}`);
  expect(response.statusCode, response.body).toBe(200);
  expect(response.json<{ suspended: boolean }>().suspended).toBe(suspended);
}

describe("a suspended account's jobs", () => {
  it('holds a queued import without using up an attempt while the account is suspended, and runs it once unsuspended', { timeout: 90_000 }, async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n96385074,Notebook\n');
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<{ id: string }>().id;
    await setSuspended(account.id, true);

    ctx.startWorkers();
    // A worker took the delivery (processedOn) and put it back in the queue, delayed.
    const queued = ctx.queues.queue('import');
    const heldSince = async (after = 0) => {
      const job = await queued.getJob(id);
      return job?.processedOn && job.processedOn > after && (await job.isDelayed()) ? job.processedOn : undefined;
    };
    const firstHold = await waitFor('the delivery to be held', () => heldSince(), 30_000);
    const held = (await operator('GET', `/v1/jobs/${id}`)).json<JobResource>();
    expect(held).toMatchObject({
      status: 'processing',
      phase: 'queued',
      started_at: null,
      detail: 'The account is suspended; the job starts once the account is unsuspended.',
    });
    // Delivered again once the hold ran out: held again, still nothing written.
    await waitFor('the delivery to be held a second time', () => heldSince(firstHold), 30_000, 100);
    expect((await operator('GET', `/v1/jobs/${id}`)).json<JobResource>()).toMatchObject({ phase: 'queued', started_at: null });
    expect((await jobRow(ctx.db, id)).attempts).toBe(0);
    expect((await queued.getJob(id))?.attemptsMade).toBe(0);
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(0);

    await setSuspended(account.id, false);
    const done = await ctx.waitForJob(account.key, id, 30_000);
    expect(done).toMatchObject({ status: 'completed', detail: '2 rows imported.', progress: { rows_created: 2 } });
    expect((await jobRow(ctx.db, id)).attempts).toBe(1);
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(2);
  });

  it('lets an import that had started before the suspension run to its end', { timeout: 90_000 }, async () => {
    const account = await ctx.createAccount();
    if (!ctx.workers) ctx.startWorkers();
    const id = await importHeldHalfWay(ctx, account, 20_000, async () => setSuspended(account.id, true));
    const done = await waitFor('the import to end', async () => {
      const job = (await operator('GET', `/v1/jobs/${id}`)).json<JobResource>();
      return job.status === 'processing' ? undefined : job;
    }, 60_000, 100);
    expect(done).toMatchObject({ status: 'completed', progress: { rows_created: 20_000 } });
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(20_000);
  });
});
