import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportScheduler, scheduleTickTemplate } from '../../src/shared/schedules/export-scheduler.js';
import { runScheduleTick } from '../../src/workers/export/schedule-worker.js';
import { untilQueueReady } from '../support/csv.js';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// Limits of export schedules: the shortest interval between runs, the number per account, and
// no runs while the account is suspended.

const MAX_SCHEDULES = 3;
let ctx: TestContext;
let scheduler: ExportScheduler;

beforeAll(async () => {
  ctx = await createTestContext({ env: { MAX_EXPORT_SCHEDULES_PER_ACCOUNT: String(MAX_SCHEDULES) } });
  await untilQueueReady(ctx);
  scheduler = new ExportScheduler(ctx.redis, ctx.config);
});
afterAll(async () => {
  await scheduler?.close();
  await ctx?.close();
});

function createSchedule(key: string, cron: string, headers: Record<string, string> = {}) {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/export-schedules',
    headers: { 'x-api-key': key, ...headers },
    payload: { cron, export: { format: 'csv' } },
  });
}

const admin = (action: 'suspend' | 'unsuspend', id: string) =>
  ctx.app.inject({ method: 'POST', url: `/v1/admin/accounts/${id}/${action}`, headers: { authorization: `Bearer ${ADMIN_KEY}` } });

describe('the shortest interval between runs (EXPORT_SCHEDULE_MIN_INTERVAL_MINUTES, default 5)', () => {
  it.each([
    ['* * * * *', '1 minute'],
    ['*/3 * * * *', '3 minutes'],
    ['0,2 3 * * *', '2 minutes'],
    ['0,58 * * * *', '2 minutes'],
    ['*/7 * * * *', '4 minutes'],
    ['0-4 0 1 1 *', '1 minute'],
  ])("refuses '%s' with 400 BAD_REQUEST naming the minimum", async (cron, apart) => {
    const account = await ctx.createAccount();
    const response = await createSchedule(account.key, cron);
    const message = `The cron expression '${cron}' has runs ${apart} apart; export schedules may run at most once every 5 minutes.`;
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, errors: [{ field: 'cron', message }] });
    expect((await ctx.get(account.key, '/v1/export-schedules')).json()).toEqual({ data: [], next_cursor: null });
  });

  it.each(['*/5 * * * *', '0,5,10 * * * *', '55 23 * * *', '0 */1 * * *'])("accepts '%s'", async (cron) => {
    const account = await ctx.createAccount();
    const response = await createSchedule(account.key, cron);
    expect(response.statusCode, response.body).toBe(201);
    await scheduler.remove(response.json<{ id: string }>().id);
  });
});

describe('schedules per account (MAX_EXPORT_SCHEDULES_PER_ACCOUNT)', () => {
  it('refuses one past the limit with 409 LIMIT_EXCEEDED, even when requests race, and counts each account apart', async () => {
    const account = await ctx.createAccount();
    const other = await ctx.createAccount();
    const responses = await Promise.all(Array.from({ length: 6 }, (_, index) => createSchedule(account.key, `${index} 4 * * *`)));

    expect(responses.map((response) => response.statusCode).sort()).toEqual([201, 201, 201, 409, 409, 409]);
    expect(responses.find((response) => response.statusCode === 409)!.json()).toMatchObject({
      error_code: 'LIMIT_EXCEEDED',
      error: 'The account has 3 export schedules, the most it may have: delete one before creating another.',
      limit: 3,
    });
    const listed = (await ctx.get(account.key, '/v1/export-schedules')).json<{ data: Array<{ id: string }> }>().data;
    expect(listed).toHaveLength(MAX_SCHEDULES);
    expect((await createSchedule(other.key, '0 4 * * *')).statusCode).toBe(201);

    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/v1/export-schedules/${listed[0]!.id}`, headers: { 'x-api-key': account.key } });
    expect(deleted.statusCode).toBe(204);
    expect((await createSchedule(account.key, '30 4 * * *')).statusCode).toBe(201);
  });

  it('answers a retried creation at the limit with its schedule, not 409', async () => {
    const account = await ctx.createAccount();
    const first = await createSchedule(account.key, '0 5 * * *', { 'idempotency-key': 'last-one' });
    for (const minute of [1, 2]) expect((await createSchedule(account.key, `${minute} 5 * * *`)).statusCode).toBe(201);
    const retried = await createSchedule(account.key, '0 5 * * *', { 'idempotency-key': 'last-one' });
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.json()).toEqual(first.json());
    expect((await createSchedule(account.key, '3 5 * * *', { 'idempotency-key': 'one-more' })).statusCode).toBe(409);
  });
});

describe('a suspended account', () => {
  it('has its scheduled runs skipped: no job, nothing queued; runs resume once unsuspended', async () => {
    const account = await ctx.createAccount();
    const { id } = (await createSchedule(account.key, '0 6 * * *')).json<{ id: string }>();
    const queued: string[] = [];
    const deps = { db: ctx.db, enqueueExport: async (jobId: string) => void queued.push(jobId), removeScheduler: async () => {} };
    const tick = { scheduleId: id, accountId: account.id };
    const jobsOfSchedule = async () =>
      (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE schedule_id = $1', [id])).rows[0]!.n;

    expect((await admin('suspend', account.id)).statusCode).toBe(200);
    expect(await runScheduleTick(deps, tick, 'tick-1')).toEqual({ skipped: 'account_suspended' });
    expect(queued).toEqual([]);
    expect(await jobsOfSchedule()).toBe(0);
    expect(await scheduler.has(id)).toBe(true);

    expect((await admin('unsuspend', account.id)).statusCode).toBe(200);
    const resumed = await runScheduleTick(deps, tick, 'tick-2');
    expect(resumed).toEqual({ jobId: expect.any(String) });
    expect(queued).toEqual([(resumed as { jobId: string }).jobId]);
    expect(await jobsOfSchedule()).toBe(1);
  });

  it("records a skipped run as its tick's result in the schedule queue, through BullMQ", async () => {
    const account = await ctx.createAccount();
    const { id } = (await createSchedule(account.key, '0 7 * * *')).json<{ id: string }>();
    await admin('suspend', account.id);
    // Test-only: the same scheduler ticking every 300 ms instead of daily.
    await scheduler.queue.upsertJobScheduler(id, { every: 300 }, scheduleTickTemplate({ scheduleId: id, accountId: account.id }));
    try {
      const ticks = await waitFor('two ticks to complete', async () => {
        const done = (await scheduler.queue.getJobs(['completed'])).filter((job) => job.data.scheduleId === id);
        return done.length >= 2 ? done : undefined;
      }, 10_000);
      for (const done of ticks) expect(done.returnvalue).toEqual({ skipped: 'account_suspended' });
      // Operators see them in the dashboard, in the schedules' queue (read-only: a tick is not retried).
      const board = await ctx.app.inject({
        method: 'GET',
        url: '/admin/queues/api/queues?activeQueue=export-schedules&status=completed&page=1',
        headers: { authorization: `Basic ${Buffer.from(`operator:${ADMIN_KEY}`).toString('base64')}` },
      });
      expect(board.statusCode).toBe(200);
      const shown = board.json<{ queues: Array<{ name: string; readOnlyMode: boolean; jobs: Array<{ data: { scheduleId: string }; returnValue: unknown }> }> }>();
      const queue = shown.queues.find((candidate) => candidate.name === 'export-schedules');
      expect(queue?.readOnlyMode).toBe(true);
      const ofSchedule = queue?.jobs.filter((job) => job.data.scheduleId === id) ?? [];
      expect(ofSchedule.length).toBeGreaterThanOrEqual(2);
      expect(ofSchedule[0]!.returnValue).toEqual({ skipped: 'account_suspended' });
    } finally {
      await scheduler.remove(id);
    }
    const { rows } = await ctx.db.query('SELECT id FROM jobs WHERE schedule_id = $1', [id]);
    expect(rows).toEqual([]);
  });
});
