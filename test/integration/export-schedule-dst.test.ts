import type { JobScheduler } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXPORT_SCHEDULE_QUEUE, ExportScheduler, nextRunAt, scheduleTickTemplate } from '../../src/shared/schedules/export-scheduler.js';
import { untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The run BullMQ schedules is the run next_run_at shows, also where a daylight-saving change
// skips midnight (API.md §4): the API's queue when a schedule is created, and the schedule
// worker when it adds the tick after the one it took.

let ctx: TestContext;
let scheduler: ExportScheduler;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
  scheduler = new ExportScheduler(ctx.redis, ctx.config);
  // No tick runs here, also one registered at a time already past: only when each is due is read.
  await scheduler.queue.pause();
});
afterAll(async () => {
  await scheduler?.close();
  await ctx?.close();
});

interface Schedule {
  id: string;
  cron: string;
  timezone: string;
}

/** Each case: a cron and zone, a time before a run, and that run (UTC). */
const SKIPPED_MIDNIGHT: Array<[cron: string, timezone: string, from: string, run: string]> = [
  // Santiago moves from 00:00 to 01:00 on Sunday 5 September 2027: that Sunday runs at 01:00.
  ['0 0 * * 0', 'America/Santiago', '2027-09-01T12:00:00Z', '2027-09-05T04:00:00.000Z'],
  ['0 0 * * 0', 'America/Santiago', '2027-08-29T04:00:00Z', '2027-09-05T04:00:00.000Z'],
  // The Azores move from 00:00 to 01:00 on 28 March 2027.
  ['0 0 * * *', 'Atlantic/Azores', '2027-03-27T12:00:00Z', '2027-03-28T01:00:00.000Z'],
  ['0 0 * * *', 'Atlantic/Azores', '2027-03-27T01:00:00Z', '2027-03-28T01:00:00.000Z'],
  ['0 */6 * * *', 'Atlantic/Azores', '2027-03-27T19:00:00Z', '2027-03-28T01:00:00.000Z'],
  ['0 0 * * 0', 'America/Havana', '2027-03-07T05:00:00Z', '2027-03-14T05:00:00.000Z'],
  ['0 0 * * 0', 'Asia/Beirut', '2027-03-20T22:00:00Z', '2027-03-27T22:00:00.000Z'],
];

/** Zones and crons the fix must leave as they were, a DST change in Berlin and New York among them. */
const ORDINARY: Array<[cron: string, timezone: string, from: string, run: string]> = [
  ['30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-29T01:30:00.000Z'],
  ['30 1 * * *', 'America/New_York', '2027-11-06T12:00:00Z', '2027-11-07T05:30:00.000Z'],
  ['0 9 * * 1', 'America/New_York', '2027-07-01T00:00:00Z', '2027-07-05T13:00:00.000Z'],
  ['0 0 * * *', 'America/Santiago', '2027-04-02T12:00:00Z', '2027-04-03T03:00:00.000Z'],
  ['15 * * * *', 'UTC', '2027-01-01T00:15:00Z', '2027-01-01T01:15:00.000Z'],
];

/**
 * Where the cron parser itself throws ("loop limit exceeded"): Lord Howe's clocks go back half an
 * hour at 02:00 on 5 April 2026, and a 02:00 run from the day before is run at 02:00 GMT+10:30.
 */
const PARSER_FAILS: Array<[cron: string, timezone: string, from: string, run: string]> = [
  ['0 2 * * *', 'Australia/Lord_Howe', '2026-04-03T15:00:00Z', '2026-04-04T15:30:00.000Z'],
  ['0 2 * * 0', 'Australia/Lord_Howe', '2026-03-30T00:00:00Z', '2026-04-04T15:30:00.000Z'],
];

async function createSchedule(cron: string, timezone: string): Promise<Schedule> {
  const account = await ctx.createAccount();
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/v1/export-schedules',
    headers: { 'x-api-key': account.key },
    payload: { cron, timezone, export: { format: 'csv' } },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<Schedule>();
}

/**
 * Has `jobScheduler` (a Queue's or a Worker's) register the schedule's next tick as BullMQ does
 * at `from` after the tick of `from` (its prevMillis), and returns when that tick is due.
 */
async function bullmqNext(jobScheduler: JobScheduler, schedule: Schedule, from: Date): Promise<number | null | undefined> {
  const template = scheduleTickTemplate({ scheduleId: schedule.id, accountId: 'dst' });
  // BullMQ reads the time once, before its first await, and never schedules before it: the clock
  // reads `from` only while the next tick is chosen, so no Worker of this process sees it.
  vi.useFakeTimers({ toFake: ['Date'], now: from });
  let upserting: Promise<unknown>;
  try {
    upserting = jobScheduler.upsertJobScheduler(
      schedule.id,
      { pattern: schedule.cron, tz: schedule.timezone },
      template.name,
      template.data,
      { ...template.opts, prevMillis: from.getTime() },
      { override: true },
    );
  } finally {
    vi.useRealTimers();
  }
  await upserting;
  return (await scheduler.queue.getJobScheduler(schedule.id))?.next;
}

function scheduleWorker() {
  const worker = ctx.workers!.workers.find((candidate) => candidate.name === EXPORT_SCHEDULE_QUEUE);
  expect(worker).toBeDefined();
  return worker!;
}

describe.each([
  ['where a daylight-saving change skips midnight', SKIPPED_MIDNIGHT],
  ['in ordinary zones and times', ORDINARY],
  ['where the cron parser fails', PARSER_FAILS],
])('the next run %s', (_, cases) => {
  it.each(cases)('%s in %s after %s is %s, for next_run_at, the API queue and the schedule worker', async (cron, timezone, from, run) => {
    // One schedule for each: both register the same tick, which may not be added twice.
    const [created, taken] = [await createSchedule(cron, timezone), await createSchedule(cron, timezone)];
    const start = new Date(from);
    expect(nextRunAt(created, start).toISOString()).toBe(run);
    try {
      expect(await bullmqNext(await scheduler.queue.jobScheduler, created, start), 'the queue that upserts schedules').toBe(Date.parse(run));
      expect(await bullmqNext(await scheduleWorker().jobScheduler, taken, start), 'the worker that takes ticks').toBe(Date.parse(run));
    } finally {
      for (const schedule of [created, taken]) await scheduler.remove(schedule.id);
    }
  });
});

it('creates a schedule whose next run the cron parser fails to find with 201 and that run as next_run_at', async () => {
  const account = await ctx.createAccount();
  // The request is made on 4 April 2026 at 02:00 in Lord Howe (GMT+11): the next 02:00 is the
  // one after the clocks go back, 02:00 GMT+10:30 on the 5th.
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-04-03T15:00:00Z') });
  let response;
  try {
    response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/export-schedules',
      headers: { 'x-api-key': account.key },
      payload: { cron: '0 2 * * *', timezone: 'Australia/Lord_Howe', export: { format: 'csv' } },
    });
  } finally {
    vi.useRealTimers();
  }
  expect(response.statusCode, response.body).toBe(201);
  const schedule = response.json<Schedule & { next_run_at: string }>();
  try {
    expect(schedule.next_run_at).toBe('2026-04-04T15:30:00.000Z');
    expect((await scheduler.queue.getJobScheduler(schedule.id))?.next).toBe(Date.parse('2026-04-04T15:30:00Z'));
  } finally {
    await scheduler.remove(schedule.id);
  }
});
