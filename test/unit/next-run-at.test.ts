import { CronExpressionParser } from 'cron-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nextRunAt, scheduleTickSettings } from '../../src/shared/schedules/export-scheduler.js';
import { nextRunAcrossOffsets } from '../../src/shared/schedules/next-run-at.js';

const LORD_HOWE = 'Australia/Lord_Howe';

/** `at` on the wall clock of `timezone`, with its weekday and offset: 'Sun 2026-04-05 02:00 GMT+10:30'. */
function wallClock(at: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      timeZoneName: 'longOffset',
    })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}

/** The first whole minute after `from` whose wall clock in `timezone` satisfies `matches`, read minute by minute. */
function firstMinute(from: Date, timezone: string, matches: (wall: string) => boolean): Date {
  for (let at = Math.floor(from.getTime() / 60_000) * 60_000 + 60_000; ; at += 60_000) {
    if (matches(wallClock(new Date(at), timezone))) return new Date(at);
  }
}

/** A wall clock's time of day: 'HH:MM'. */
const timeOfDay = (wall: string) => wall.slice(15, 20);

const repeatStrategy = (settings: ReturnType<typeof scheduleTickSettings>, cron: string, timezone: string, from: string) =>
  settings.repeatStrategy!(Date.parse(from), { pattern: cron, tz: timezone }, 'export-schedule-tick');

afterEach(() => {
  vi.restoreAllMocks();
});

// Lord Howe's clocks go back half an hour at 02:00 on Sunday 5 April 2026 (GMT+11 to GMT+10:30),
// and the cron parser throws "loop limit exceeded" looking for a 02:00 across that change.
describe('the next run in Australia/Lord_Howe, where daylight saving ends by half an hour', () => {
  it('finds 0 2 * * * at 02:00 on the next days from 2026-04-03T15:00Z, where the parser alone throws', () => {
    const timing = { cron: '0 2 * * *', timezone: LORD_HOWE };
    const from = new Date('2026-04-03T15:00:00Z');
    expect(wallClock(from, LORD_HOWE)).toBe('Sat 2026-04-04 02:00 GMT+11:00');
    expect(() => CronExpressionParser.parse(timing.cron, { tz: LORD_HOWE, currentDate: from }).next()).toThrow(/loop limit/);

    const first = nextRunAt(timing, from);
    expect(first.toISOString()).toBe('2026-04-04T15:30:00.000Z');
    expect(wallClock(first, LORD_HOWE)).toBe('Sun 2026-04-05 02:00 GMT+10:30');
    const second = nextRunAt(timing, first);
    expect(second.toISOString()).toBe('2026-04-05T15:30:00.000Z');
    expect(wallClock(second, LORD_HOWE)).toBe('Mon 2026-04-06 02:00 GMT+10:30');
  });

  const cases: Array<[cron: string, from: string, matches: (wall: string) => boolean]> = [
    ['0 2 * * *', '2026-04-04T03:00:00Z', (wall) => timeOfDay(wall) === '02:00'],
    ['0 2 * * *', '2026-04-04T14:29:00Z', (wall) => timeOfDay(wall) === '02:00'],
    ['15 2 * * *', '2026-04-03T15:15:00Z', (wall) => timeOfDay(wall) === '02:15'],
    ['0 3 * * *', '2026-04-03T16:00:00Z', (wall) => timeOfDay(wall) === '03:00'],
    ['0 2,14 * * *', '2026-04-04T03:00:00Z', (wall) => ['02:00', '14:00'].includes(timeOfDay(wall))],
    ['0 * * * *', '2026-04-04T14:00:00Z', (wall) => timeOfDay(wall).endsWith(':00')],
    // Weekly: the parser throws from any time in the week before.
    ['0 2 * * 0', '2026-03-30T00:00:00Z', (wall) => wall.startsWith('Sun') && timeOfDay(wall) === '02:00'],
  ];
  it.each(cases)('finds %s after %s at the first minute whose wall clock matches', (cron, from, matches) => {
    const start = new Date(from);
    expect(() => CronExpressionParser.parse(cron, { tz: LORD_HOWE, currentDate: start }).next()).toThrow(/loop limit/);
    expect(nextRunAt({ cron, timezone: LORD_HOWE }, start).toISOString()).toBe(firstMinute(start, LORD_HOWE, matches).toISOString());
  });

  it("gives BullMQ the run from the schedule tick strategy, which never throws", () => {
    const error = vi.fn();
    const settings = scheduleTickSettings({ error });
    expect(repeatStrategy(settings, '0 2 * * *', LORD_HOWE, '2026-04-03T15:00:00Z')).toBe(Date.parse('2026-04-04T15:30:00Z'));
    expect(repeatStrategy(scheduleTickSettings(), '0 2 * * 0', LORD_HOWE, '2026-03-30T00:00:00Z')).toBe(Date.parse('2026-04-04T15:30:00Z'));
    expect(error).not.toHaveBeenCalled();
  });
});

it('answers no next tick, and logs why, when no run can be found at all', () => {
  vi.spyOn(CronExpressionParser, 'parse').mockImplementation(() => {
    throw new Error('Invalid expression, loop limit exceeded');
  });
  const error = vi.fn();
  expect(repeatStrategy(scheduleTickSettings({ error }), '0 2 * * *', LORD_HOWE, '2026-04-03T15:00:00Z')).toBeUndefined();
  expect(error).toHaveBeenCalledWith(
    expect.objectContaining({ cron: '0 2 * * *', timezone: LORD_HOWE, from: '2026-04-03T15:00:00.000Z', err: expect.any(Error) }),
    expect.stringMatching(/no next run/),
  );
  expect(repeatStrategy(scheduleTickSettings(), '0 2 * * *', LORD_HOWE, '2026-04-03T15:00:00Z')).toBeUndefined();
});

// The search stretch by stretch is the parser's own answer where the parser finds one, across
// daylight-saving changes too (skipped midnights and 02:30s, a repeated 01:30).
describe('the search across offsets, where the parser does not fail', () => {
  const ordinary: Array<[cron: string, timezone: string, from: string]> = [
    ['30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z'],
    ['30 1 * * *', 'America/New_York', '2027-11-06T12:00:00Z'],
    ['0 9 * * 1', 'America/New_York', '2027-07-01T00:00:00Z'],
    ['0 0 * * *', 'America/Santiago', '2027-04-02T12:00:00Z'],
    ['15 * * * *', 'UTC', '2027-01-01T00:15:00Z'],
    ['0 3 * * *', 'America/St_Johns', '2026-11-01T00:00:00Z'],
    ['45 5 * * *', 'Asia/Kathmandu', '2026-06-01T00:00:00Z'],
    ['*/20 * * * *', 'Europe/Berlin', '2026-03-29T00:30:00Z'],
    ['0 0 * * 0', 'America/Santiago', '2027-09-01T12:00:00Z'],
    ['0 0 * * *', 'Atlantic/Azores', '2027-03-27T12:00:00Z'],
    ['0 2 5 4 *', LORD_HOWE, '2026-04-05T00:00:00Z'],
    ['0 12 29 2 *', 'Europe/Paris', '2026-03-01T00:00:00Z'],
    ['0 0 1 * *', 'Pacific/Chatham', '2026-03-15T00:00:00Z'],
  ];
  it('runs a wall time the change skips as if the clocks had not changed yet: 02:00 in Lord Howe on 4 October 2026 at 02:30', () => {
    const run = nextRunAcrossOffsets({ cron: '0 2 * * *', timezone: LORD_HOWE }, new Date('2026-10-03T00:00:00Z'));
    expect(run?.toISOString()).toBe('2026-10-03T15:30:00.000Z');
    expect(wallClock(run!, LORD_HOWE)).toBe('Sun 2026-10-04 02:30 GMT+11:00');
  });

  it.each(ordinary)('finds %s in %s after %s where the parser does', (cron, timezone, from) => {
    const start = new Date(from);
    const parsed = CronExpressionParser.parse(cron, { tz: timezone, currentDate: start });
    let at = start;
    for (let run = 0; run < 5; run += 1) {
      const expected = parsed.next().toDate();
      expect(nextRunAcrossOffsets({ cron, timezone }, at)?.toISOString()).toBe(expected.toISOString());
      at = expected;
    }
  });
});
