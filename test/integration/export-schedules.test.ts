import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { createWorkerConnection } from '../../src/shared/queues.js';
import { ExportScheduler, nextRunAt, scheduleTickTemplate } from '../../src/shared/schedules/export-scheduler.js';
import { restoreExportSchedules } from '../../src/workers/export/restore-schedules.js';
import { runScheduleTick } from '../../src/workers/export/schedule-worker.js';
import { startWorkers } from '../../src/workers/start-workers.js';
import { ean13, untilQueueReady } from '../support/csv.js';
import { deleteQueueKeys, seedProducts } from '../support/exports.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// POST/GET/DELETE /v1/export-schedules and the ticks that start exports (API.md §4).

let ctx: TestContext;
let scheduler: ExportScheduler;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
  scheduler = new ExportScheduler(ctx.redis, ctx.config);
});
afterAll(async () => {
  await scheduler?.close();
  await ctx?.close();
});

interface Schedule {
  id: string;
  cron: string;
  timezone: string;
  next_run_at: string;
  export: Record<string, unknown>;
}

function createSchedule(key: string, body: unknown, headers: Record<string, string> = {}) {
  return ctx.app.inject({ method: 'POST', url: '/v1/export-schedules', headers: { 'x-api-key': key, ...headers }, payload: body as object });
}

/** The ids of the account's schedules, newest first. */
async function scheduleIds(key: string): Promise<string[]> {
  return (await ctx.get(key, '/v1/export-schedules')).json<{ data: Schedule[] }>().data.map((schedule) => schedule.id);
}

/** The local wall-clock hour and minute of `iso` in `timeZone`. */
function localTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

describe('creating and listing schedules', () => {
  it('creates a schedule with 201, its next run in its time zone and the export with defaults filled in', async () => {
    const account = await ctx.createAccount();
    const before = new Date();
    const response = await createSchedule(account.key, { cron: '30 3 * * *', timezone: 'Europe/Berlin', export: { format: 'csv', gzip: true } });
    expect(response.statusCode).toBe(201);
    const schedule = response.json<Schedule>();
    expect(schedule).toMatchObject({
      cron: '30 3 * * *',
      timezone: 'Europe/Berlin',
      export: { format: 'csv', gzip: true, filter: {}, fields: ['ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url', 'attributes'] },
    });
    expect(localTime(schedule.next_run_at, 'Europe/Berlin')).toBe('03:30');
    const next = Date.parse(schedule.next_run_at);
    expect(next).toBeGreaterThan(before.getTime());
    expect(next - before.getTime()).toBeLessThanOrEqual(24 * 3600 * 1000);
    // Backed by a BullMQ job scheduler of the same id.
    const registered = await scheduler.queue.getJobScheduler(schedule.id);
    expect(registered).toMatchObject({ pattern: '30 3 * * *', tz: 'Europe/Berlin', next: next });
  });

  it('defaults the time zone to UTC', async () => {
    const account = await ctx.createAccount();
    const schedule = (await createSchedule(account.key, { cron: '0 * * * *', export: { format: 'ndjson' } })).json<Schedule>();
    expect(schedule.timezone).toBe('UTC');
    expect(schedule.next_run_at).toMatch(/T\d{2}:00:00\.000Z$/);
  });

  it('takes day and month names, THU and MAR among them, and gives the same next run on every read', async () => {
    const account = await ctx.createAccount();
    const created = await createSchedule(account.key, { cron: '0 3 * MAR,Jun-aug thu,SUN', export: { format: 'csv' } });
    expect(created.statusCode).toBe(201);
    const reads = await Promise.all([1, 2, 3].map(async () => (await ctx.get(account.key, '/v1/export-schedules')).json<{ data: Schedule[] }>().data[0]!.next_run_at));
    expect(new Set([created.json<Schedule>().next_run_at, ...reads]).size).toBe(1);
  });

  it.each([
    [{ cron: '61 * * * *', export: { format: 'csv' } }, 'cron', "Invalid cron expression '61 * * * *': Constraint error, got value 61 expected range 0-59."],
    [{ cron: 'H 3 * * *', export: { format: 'csv' } }, 'cron', "Invalid cron expression 'H 3 * * *': H (a hashed value) is not standard cron; name the minute and hour."],
    [{ cron: '0 H/4 * * *', export: { format: 'csv' } }, 'cron', "Invalid cron expression '0 H/4 * * *': H (a hashed value) is not standard cron; name the minute and hour."],
    [{ cron: '0 9 * * H#2', export: { format: 'csv' } }, 'cron', "Invalid cron expression '0 9 * * H#2': H (a hashed value) is not standard cron; name the minute and hour."],
    [{ cron: '0 9 1-H * *', export: { format: 'csv' } }, 'cron', "Invalid cron expression '0 9 1-H * *': H (a hashed value) is not standard cron; name the minute and hour."],
    [{ cron: '0 9 * * HL', export: { format: 'csv' } }, 'cron', "Invalid cron expression '0 9 * * HL': H (a hashed value) is not standard cron; name the minute and hour."],
    [{ cron: '0 0 * * * *', export: { format: 'csv' } }, 'cron', "The cron expression must have 5 fields (minute hour day-of-month month day-of-week), not 6: '0 0 * * * *'."],
    [{ cron: 'every day', export: { format: 'csv' } }, 'cron', "The cron expression must have 5 fields (minute hour day-of-month month day-of-week), not 2: 'every day'."],
    [{ export: { format: 'csv' } }, 'cron', 'The cron field is required: a 5-field cron expression such as "0 3 * * *".'],
    [{ cron: '0 3 * * *', timezone: 'Mars/Olympus_Mons', export: { format: 'csv' } }, 'timezone', "Unknown time zone 'Mars/Olympus_Mons': use an IANA name such as Europe/Berlin or UTC."],
    [{ cron: '0 3 * * *', export: { format: 'xml' } }, 'export.format', "Unknown format 'xml': expected csv or ndjson."],
    [{ cron: '0 3 * * *', export: { format: 'csv', fields: ['sku'] } }, 'export.fields', expect.stringContaining("Unknown field 'sku'")],
    [{ cron: '0 3 * * *' }, 'export', 'The export field is required.'],
    [{ cron: '0 3 * * *', export: { format: 'csv', colour: 'blue' } }, 'export.colour', "Unknown key 'export.colour': expected one of format, gzip, fields, filter, callback_url, columns, decimal_separator, delimiter."],
    [{ cron: '0 3 * * *', export: { format: 'csv', filter: { sku: '1' } } }, 'export.filter.sku', "Unknown key 'export.filter.sku': expected one of brand, category, updated_since."],
  ])('refuses %j with 400 BAD_REQUEST', async (body, field, message) => {
    const account = await ctx.createAccount();
    const response = await createSchedule(account.key, body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, errors: [{ field, message }] });
    expect((await ctx.get(account.key, '/v1/export-schedules')).json()).toEqual({ data: [], next_cursor: null });
  });

  it('lists every problem of a schedule body at once, its time zone and its export alike', async () => {
    const account = await ctx.createAccount();
    const response = await createSchedule(account.key, { cron: '0 3 * * *', timezone: 'Mars/Base', export: { format: 'xml' } });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ errors: Array<{ field: string }> }>().errors.map((problem) => problem.field)).toEqual(['timezone', 'export.format']);
    const noCron = await createSchedule(account.key, { export: { format: 'xml' } });
    expect(noCron.json<{ errors: Array<{ field: string }> }>().errors.map((problem) => problem.field)).toEqual(['cron', 'export.format']);
  });

  it("lists the account's schedules newest first with cursor pages, and never another account's", async () => {
    const account = await ctx.createAccount();
    const other = await ctx.createAccount();
    const ids: string[] = [];
    for (const minute of [1, 2, 3]) {
      ids.push((await createSchedule(account.key, { cron: `${minute} 4 * * *`, export: { format: 'csv' } })).json<Schedule>().id);
    }
    await createSchedule(other.key, { cron: '0 4 * * *', export: { format: 'csv' } });
    const first = (await ctx.get(account.key, '/v1/export-schedules?limit=2')).json<{ data: Schedule[]; next_cursor: string | null }>();
    expect(first.data.map((schedule) => schedule.id)).toEqual([ids[2], ids[1]]);
    const second = (await ctx.get(account.key, `/v1/export-schedules?limit=2&cursor=${first.next_cursor}`)).json<{
      data: Schedule[];
      next_cursor: string | null;
    }>();
    expect(second).toEqual({ data: [expect.objectContaining({ id: ids[0], cron: '1 4 * * *' })], next_cursor: null });
  });

  it('deletes a schedule with 204 and stops its ticks; 404 for an unknown one or another account', async () => {
    const account = await ctx.createAccount();
    const other = await ctx.createAccount();
    const { id } = (await createSchedule(account.key, { cron: '0 5 * * *', export: { format: 'csv' } })).json<Schedule>();
    const remove = (key: string) => ctx.app.inject({ method: 'DELETE', url: `/v1/export-schedules/${id}`, headers: { 'x-api-key': key } });

    expect((await remove(other.key)).statusCode).toBe(404);
    const deleted = await remove(account.key);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect(await scheduler.queue.getJobScheduler(id)).toBeUndefined();
    expect((await ctx.get(account.key, '/v1/export-schedules')).json()).toEqual({ data: [], next_cursor: null });
    expect((await remove(account.key)).json()).toMatchObject({ error_code: 'NOT_FOUND' });
  });
});

describe('Idempotency-Key on POST /v1/export-schedules', () => {
  const NIGHTLY = { cron: '0 2 * * *', timezone: 'Europe/Berlin', export: { format: 'csv', gzip: true } };
  const KEY = { 'idempotency-key': 'abc123' };

  it('answers a retried creation with the schedule it created, and runs one scheduler', async () => {
    const account = await ctx.createAccount();
    const first = await createSchedule(account.key, NIGHTLY, KEY);
    expect(first.statusCode, first.body).toBe(201);
    const again = await createSchedule(account.key, { ...NIGHTLY, cron: ' 0  2 * * * ' }, KEY);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual(first.json());
    const { id } = first.json<Schedule>();
    expect(await scheduleIds(account.key)).toEqual([id]);
    const schedulers = await scheduler.queue.getJobSchedulers();
    expect(schedulers.filter((registered) => registered.key === id)).toHaveLength(1);
    await scheduler.remove(id);
  });

  it('creates one schedule when two requests with the same key arrive at once', async () => {
    const account = await ctx.createAccount();
    const responses = await Promise.all([1, 2, 3].map(() => createSchedule(account.key, NIGHTLY, KEY)));
    expect(responses.map((response) => response.statusCode)).toEqual([201, 201, 201]);
    const ids = new Set(responses.map((response) => response.json<Schedule>().id));
    expect(ids.size).toBe(1);
    expect(await scheduleIds(account.key)).toEqual([...ids]);
    await scheduler.remove([...ids][0]!);
  });

  it('refuses the key with another request: 422 VALIDATION_ERROR, nothing created', async () => {
    const account = await ctx.createAccount();
    const { id } = (await createSchedule(account.key, NIGHTLY, KEY)).json<Schedule>();
    for (const other of [
      { ...NIGHTLY, cron: '0 3 * * *' },
      { ...NIGHTLY, timezone: 'UTC' },
      { ...NIGHTLY, export: { format: 'ndjson' } },
      { ...NIGHTLY, export: { ...NIGHTLY.export, callback_url: 'https://example.com/hook' } },
    ]) {
      const response = await createSchedule(account.key, other, KEY);
      expect(response.statusCode, JSON.stringify(other)).toBe(422);
      expect(response.json()).toMatchObject({
        error_code: 'VALIDATION_ERROR',
        error: 'This Idempotency-Key was already used with a different request.',
      });
    }
    expect(await scheduleIds(account.key)).toEqual([id]);
    await scheduler.remove(id);
  });

  it("keeps keys per account, and a schedule without a key or with another key is a new one", async () => {
    const account = await ctx.createAccount();
    const other = await ctx.createAccount();
    const mine = (await createSchedule(account.key, NIGHTLY, KEY)).json<Schedule>();
    const theirs = await createSchedule(other.key, NIGHTLY, KEY);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.json<Schedule>().id).not.toBe(mine.id);
    const unkeyed = (await createSchedule(account.key, NIGHTLY)).json<Schedule>();
    const rekeyed = (await createSchedule(account.key, NIGHTLY, { 'idempotency-key': 'abc124' })).json<Schedule>();
    expect(await scheduleIds(account.key)).toEqual([rekeyed.id, unkeyed.id, mine.id]);
    for (const id of [mine.id, theirs.json<Schedule>().id, unkeyed.id, rekeyed.id]) await scheduler.remove(id);
  });

  it('frees the key of a deleted schedule: the same request then creates a new one', async () => {
    const account = await ctx.createAccount();
    const { id } = (await createSchedule(account.key, NIGHTLY, KEY)).json<Schedule>();
    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/v1/export-schedules/${id}`, headers: { 'x-api-key': account.key } });
    expect(deleted.statusCode).toBe(204);
    const again = await createSchedule(account.key, NIGHTLY, KEY);
    expect(again.statusCode).toBe(201);
    expect(again.json<Schedule>().id).not.toBe(id);
    expect(await scheduleIds(account.key)).toEqual([again.json<Schedule>().id]);
    await scheduler.remove(again.json<Schedule>().id);
  });

  it('releases a key after 24 hours, as for jobs', async () => {
    const account = await ctx.createAccount();
    const { id } = (await createSchedule(account.key, NIGHTLY, KEY)).json<Schedule>();
    await ctx.db.query("UPDATE export_schedules SET created_at = now() - interval '25 hours' WHERE id = $1", [id]);
    const later = await createSchedule(account.key, { ...NIGHTLY, cron: '0 4 * * *' }, KEY);
    expect(later.statusCode, later.body).toBe(201);
    expect(await scheduleIds(account.key)).toEqual([later.json<Schedule>().id, id]);
    for (const created of [id, later.json<Schedule>().id]) await scheduler.remove(created);
  });

  it('refuses an Idempotency-Key over 255 characters with 400 BAD_REQUEST', async () => {
    const account = await ctx.createAccount();
    const response = await createSchedule(account.key, NIGHTLY, { 'idempotency-key': 'k'.repeat(256) });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: "Invalid header 'Idempotency-Key': it must be at most 255 characters." });
    expect(await scheduleIds(account.key)).toEqual([]);
  });
});

describe('schedule ticks', () => {
  it('starts one export job per tick, even when a tick is delivered twice', async () => {
    const account = await ctx.createAccount();
    const schedule = (await createSchedule(account.key, { cron: '0 6 * * *', export: { format: 'csv' } })).json<Schedule>();
    const queued: string[] = [];
    const deps = { db: ctx.db, enqueueExport: async (jobId: string) => void queued.push(jobId), removeScheduler: async () => {} };
    const tick = { scheduleId: schedule.id, accountId: account.id };

    const jobIdOf = async (tickKey: string) => ((await runScheduleTick(deps, tick, tickKey)) as { jobId: string }).jobId;
    const first = await jobIdOf('tick-1');
    const again = await jobIdOf('tick-1');
    const next = await jobIdOf('tick-2');

    expect(again).toBe(first);
    expect(next).not.toBe(first);
    expect(queued).toEqual([first, first, next]);
    const { rows } = await ctx.db.query('SELECT id, type, schedule_id, options FROM jobs WHERE schedule_id = $1 ORDER BY created_at', [schedule.id]);
    expect(rows).toEqual([
      { id: first, type: 'export', schedule_id: schedule.id, options: schedule.export },
      { id: next, type: 'export', schedule_id: schedule.id, options: schedule.export },
    ]);
  });

  it('stops the ticks of a schedule that was deleted meanwhile', async () => {
    const account = await ctx.createAccount();
    const removed: string[] = [];
    const deps = { db: ctx.db, enqueueExport: async () => {}, removeScheduler: async (id: string) => void removed.push(id) };
    const scheduleId = '00000000-0000-4000-8000-000000000001';
    expect(await runScheduleTick(deps, { scheduleId, accountId: account.id }, 'tick-1')).toEqual({ skipped: 'schedule_deleted' });
    expect(removed).toEqual([scheduleId]);
  });

  it('fires through BullMQ once per tick with two worker processes, each run a normal export job with its schedule_id', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
    const schedule = (await createSchedule(account.key, { cron: '0 7 * * *', export: { format: 'ndjson' } })).json<Schedule>();
    // A second worker process on the same queues.
    const connection = createWorkerConnection(ctx.config.REDIS_URL);
    const second = startWorkers({ db: ctx.db, uploads: ctx.uploads, logger: createLogger('silent'), config: ctx.config, connection });
    try {
      // Test-only: the same scheduler ticking every 300 ms instead of daily.
      await scheduler.queue.upsertJobScheduler(schedule.id, { every: 300 }, scheduleTickTemplate({ scheduleId: schedule.id, accountId: account.id }));
      const deadline = Date.now() + 15_000;
      let jobs: Array<{ id: string; status: string; schedule_id: string | null; links: { result: string | null } }> = [];
      while (Date.now() < deadline) {
        jobs = (await ctx.get(account.key, '/v1/jobs?type=export')).json<{ data: typeof jobs }>().data;
        if (jobs.filter((job) => job.status === 'completed').length >= 3) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await scheduler.remove(schedule.id);
      // A tick may still be running (its job row written, not yet finished): count after it ends.
      await waitFor('the last tick to finish', async () => {
        const pending = await scheduler.queue.getJobs(['active', 'waiting']);
        return pending.some((tick) => tick.data.scheduleId === schedule.id) ? undefined : true;
      }, 10_000);
      const ticks = await scheduler.queue.getJobs(['completed', 'active', 'waiting', 'delayed']);
      const ticksRun = ticks.filter((tick) => tick.data.scheduleId === schedule.id && tick.finishedOn).length;

      expect(jobs.filter((job) => job.status === 'completed').length).toBeGreaterThanOrEqual(3);
      for (const job of jobs.filter((each) => each.status === 'completed')) {
        expect(job).toMatchObject({ schedule_id: schedule.id, links: { result: `/v1/jobs/${job.id}/result` } });
      }
      const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE schedule_id = $1', [schedule.id]);
      expect(rows[0]!.n).toBe(ticksRun);
    } finally {
      await second.close();
      connection.disconnect();
    }
  });

  it('computes next_run_at across a daylight-saving change', () => {
    const next = nextRunAt({ cron: '30 2 * * *', timezone: 'Europe/Berlin' }, new Date('2026-03-28T12:00:00Z'));
    // 02:30 does not exist in Berlin on 29 March 2026; the next run is a real instant after it.
    expect(next.getTime()).toBeGreaterThan(Date.parse('2026-03-28T12:00:00Z'));
    expect(localTime(nextRunAt({ cron: '0 9 * * 1', timezone: 'America/New_York' }, new Date('2026-07-01T00:00:00Z')).toISOString(), 'America/New_York')).toBe('09:00');
  });
});

describe('after Redis lost the job schedulers', () => {
  /** Three schedules of two accounts, with different crons and time zones. */
  async function createThreeSchedules(): Promise<Schedule[]> {
    const account = await ctx.createAccount();
    const other = await ctx.createAccount();
    return [
      (await createSchedule(account.key, { cron: '15 2 * * *', timezone: 'Europe/Berlin', export: { format: 'csv' } })).json<Schedule>(),
      (await createSchedule(account.key, { cron: '0 4 * * 1-5', export: { format: 'ndjson' } })).json<Schedule>(),
      (await createSchedule(other.key, { cron: '45 23 * * 0', timezone: 'America/New_York', export: { format: 'csv' } })).json<Schedule>(),
    ];
  }

  /** The job scheduler of `schedule` as BullMQ has it: the same cron and time zone, firing next at next_run_at. */
  async function expectRegistered(schedule: Schedule): Promise<void> {
    expect(await scheduler.queue.getJobScheduler(schedule.id)).toMatchObject({
      pattern: schedule.cron,
      tz: schedule.timezone,
      next: nextRunAt(schedule).getTime(),
    });
  }

  it("registers every account's stored schedules again in batches, and a second pass changes nothing", async () => {
    const schedules = await createThreeSchedules();
    expect(await deleteQueueKeys(ctx)).toBeGreaterThan(0);
    for (const schedule of schedules) expect(await scheduler.queue.getJobScheduler(schedule.id)).toBeUndefined();

    // Batches of 2: the three schedules (and those of the tests above) span several reads.
    const deps = { db: ctx.db, scheduler, logger: createLogger('silent') };
    const restored = await restoreExportSchedules(deps, 2);

    expect(restored).toEqual(expect.arrayContaining(schedules.map((schedule) => schedule.id)));
    for (const schedule of schedules) await expectRegistered(schedule);
    const { rows } = await ctx.db.query<{ id: string }>('SELECT id FROM export_schedules');
    for (const { id } of rows) expect(await scheduler.has(id), id).toBe(true);
    expect(await restoreExportSchedules(deps, 2)).toEqual([]);
  });

  it('registers them again when a worker process starts', async () => {
    const schedules = await createThreeSchedules();
    await deleteQueueKeys(ctx);
    const connection = createWorkerConnection(ctx.config.REDIS_URL);
    const workers = startWorkers({ db: ctx.db, uploads: ctx.uploads, logger: createLogger('silent'), config: ctx.config, connection });
    try {
      await waitFor('the schedules to be registered again', async () => {
        const present = await Promise.all(schedules.map((schedule) => scheduler.has(schedule.id)));
        return present.every(Boolean) ? true : undefined;
      }, 10_000);
      for (const schedule of schedules) await expectRegistered(schedule);
    } finally {
      await workers.close();
      connection.disconnect();
    }
  });
});
