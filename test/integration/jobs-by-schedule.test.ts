import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { listJobs, type JobListQuery } from '../../src/shared/jobs/job-list-queries.js';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { runScheduleTick } from '../../src/workers/export/schedule-worker.js';
import { runExportJob, seedProducts } from '../support/exports.js';
import { executedStatementNodes, indexesUsed, tablesScanned, type PlanNode } from '../support/search.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

type Page = { data: JobResource[]; next_cursor: string | null };

const post = (key: string, url: string, payload?: object) => ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, payload });

/** An account with two daily export schedules, and a product to export. */
async function accountWithSchedules() {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: '4006381333931', name: 'Pen' }]);
  const schedule = async () => (await post(account.key, '/v1/export-schedules', { cron: '0 3 * * *', export: { format: 'csv' } })).json<{ id: string }>().id;
  return { ...account, schedules: [await schedule(), await schedule()] as const };
}

/**
 * Runs a tick of the schedule as the schedule worker does: its export job, queued when `run` (and
 * then waited for), else left waiting.
 */
async function tick(account: { id: string; key: string }, scheduleId: string, tickKey: string, run = true): Promise<string> {
  const deps = { db: ctx.db, enqueueExport: async (jobId: string) => (run ? ctx.queues.enqueue('export', jobId) : undefined), removeScheduler: async () => {} };
  const { jobId } = (await runScheduleTick(deps, { scheduleId, accountId: account.id }, tickKey)) as { jobId: string };
  if (run) expect((await ctx.waitForJob(account.key, jobId)).status).toBe('completed');
  return jobId;
}

describe('GET /v1/jobs?schedule_id=', () => {
  it("lists one schedule's runs alone, newest first, page by page; with status=completed&limit=1 its newest file", async () => {
    const account = await accountWithSchedules();
    const [nightly, other] = account.schedules;
    const first = await tick(account, nightly, 'n-1');
    await tick(account, other, 'o-1');
    const second = await tick(account, nightly, 'n-2');
    const onDemand = await runExportJob(ctx, account.key, { format: 'csv' });
    expect(onDemand.status).toBe('completed');
    const third = await tick(account, nightly, 'n-3', false);
    expect((await post(account.key, `/v1/jobs/${third}/cancel`)).statusCode).toBe(200);

    const newest = (await ctx.get(account.key, `/v1/jobs?type=export&schedule_id=${nightly}&status=completed&limit=1`)).json<Page>();
    expect(newest.data.map((job) => [job.id, job.schedule_id, job.status])).toEqual([[second, nightly, 'completed']]);
    expect((await ctx.get(account.key, newest.data[0]!.links.result!)).statusCode).toBe(200);

    const page1 = (await ctx.get(account.key, `/v1/jobs?schedule_id=${nightly}&limit=2`)).json<Page>();
    expect(page1.data.map((job) => job.id)).toEqual([third, second]);
    const page2 = (await ctx.get(account.key, `/v1/jobs?schedule_id=${nightly}&limit=2&cursor=${page1.next_cursor}`)).json<Page>();
    expect(page2).toMatchObject({ data: [{ id: first }], next_cursor: null });
    // Upper case is the same id.
    const upper = (await ctx.get(account.key, `/v1/jobs?schedule_id=${other.toUpperCase()}`)).json<Page>();
    expect(upper.data.map((job) => job.schedule_id)).toEqual([other]);
  });

  it("finds nothing of another account's schedule, for it or through the operator key's account_id; the operator finds its runs", async () => {
    const owner = await accountWithSchedules();
    const run = await tick(owner, owner.schedules[0], 'n-1');
    const stranger = await ctx.createAccount();
    await runExportJob(ctx, stranger.key, { format: 'csv' });

    const seen = await ctx.get(stranger.key, `/v1/jobs?schedule_id=${owner.schedules[0]}`);
    expect(seen.statusCode).toBe(200);
    expect(seen.json()).toEqual({ data: [], next_cursor: null });
    const throughOperator = (await ctx.get(ADMIN_KEY, `/v1/jobs?account_id=${stranger.id}&schedule_id=${owner.schedules[0]}`)).json<Page>();
    expect(throughOperator.data).toEqual([]);
    const operator = (await ctx.get(ADMIN_KEY, `/v1/jobs?schedule_id=${owner.schedules[0]}`)).json<Page>();
    expect(operator.data.map((job) => job.id)).toEqual([run]);
  });

  it('refuses a schedule_id that is no schedule id with 400 BAD_REQUEST naming it', async () => {
    const { key } = await ctx.createAccount();
    for (const value of ['nightly', '123', `${'0'.repeat(8)}-0000-0000-0000-00000000000g`]) {
      const response = await ctx.get(key, `/v1/jobs?schedule_id=${value}`);
      expect(response.statusCode, value).toBe(400);
      expect(response.json()).toMatchObject({
        error_code: 'BAD_REQUEST',
        error: "Invalid query parameter 'schedule_id': it must be the id of an export schedule.",
      });
    }
  });
});

/** The nodes that ran of the plan of the statement the job list runs for `query` (EXPLAIN ANALYZE). */
async function listPlan(accountId: string, query: JobListQuery): Promise<PlanNode[]> {
  let statement: pg.QueryConfig | undefined;
  const recorder = { query: async (config: pg.QueryConfig) => ((statement = config), { rows: [] }) } as unknown as Db;
  await listJobs(recorder, accountId, query);
  return executedStatementNodes(ctx.db, statement!.text, statement!.values ?? []);
}

describe('GET /v1/jobs?schedule_id= on an account of many jobs', () => {
  it("reads the schedule's runs through its index, with no scan of the jobs, whether it has runs or none", async () => {
    const { id: accountId } = await ctx.createAccount();
    const scheduleId = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
    // 60,000 jobs over a year, one in 8 an export, one in 200 a run of the schedule (the other
    // exports on demand: a schedule's runs are not every export there is).
    await ctx.db.query(
      `INSERT INTO jobs (id, account_id, type, status, phase, created_at, schedule_id)
       SELECT gen_random_uuid(), $1, CASE WHEN i % 8 = 0 THEN 'export' ELSE 'import' END, 'completed', 'done',
              now() - i * interval '9 minutes', CASE WHEN i % 200 = 0 THEN $2::uuid END
       FROM generate_series(1, 60000) AS i`,
      [accountId, scheduleId],
    );
    await ctx.db.query('ANALYZE jobs');
    const queries: JobListQuery[] = [
      { type: 'export', status: 'completed', scheduleId, limit: 1 },
      { scheduleId: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', limit: 50 },
      { scheduleId, limit: 50, after: { createdAt: new Date(Date.now() - 30 * 86_400_000).toISOString(), id: 'ffffffff-ffff-4fff-8fff-ffffffffffff' } },
    ];
    for (const query of queries) {
      const nodes = await listPlan(accountId, query);
      expect(indexesUsed(nodes), JSON.stringify(query)).toEqual(['jobs_schedule_created_idx']);
      expect(tablesScanned(nodes)).toEqual([]);
    }
  });
});
