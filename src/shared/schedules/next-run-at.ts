import { CronExpressionParser } from 'cron-parser';

/** When and where a schedule fires. */
export interface ScheduleTiming {
  cron: string;
  timezone: string;
}

/**
 * How far after `from` a run is looked for when the cron parser fails: past the longest gap
 * between two runs of a standard cron (29 February, which 2100 skips).
 */
const SEARCH_LIMIT_MS = 9 * 366 * 24 * 3600_000;

/** How far apart the zone's UTC offset is read when looking for its next change. */
const OFFSET_PROBE_MS = 24 * 3600_000;

/**
 * The next time the schedule fires after `from`. The cron parser (cron-parser 5.10) fails on some
 * zones' daylight-saving changes: in Australia/Lord_Howe, whose clocks go back half an hour at
 * 02:00, `0 2 * * *` throws "loop limit exceeded" from any time in the day before. Then the run
 * is found by {@link nextRunAcrossOffsets}. Throws when there is no run within nine years.
 */
export function nextRunAt(timing: ScheduleTiming, from = new Date()): Date {
  try {
    return CronExpressionParser.parse(timing.cron, { tz: timing.timezone, currentDate: from }).next().toDate();
  } catch (error) {
    const run = nextRunAcrossOffsets(timing, from);
    if (run === undefined) throw error;
    return run;
  }
}

/**
 * The next run after `from`, found one stretch of the zone's time at a time: between two changes
 * of its UTC offset a zone reads as a zone with that fixed offset (`UTC+10:30`), which has no
 * daylight-saving change for the parser to trip on, so the first run the parser finds there in
 * the stretch is the run. Undefined when there is none within {@link SEARCH_LIMIT_MS}.
 *
 * Around a change it keeps to what the parser does where it does not fail: a run whose wall time
 * the change skips happens as if the clocks had not changed yet (02:30 when Berlin goes from 02:00
 * to 03:00: at 03:30; 00:00 when Santiago goes to 01:00: at 01:00); a wall time the change
 * repeats runs once, the first time.
 */
export function nextRunAcrossOffsets(timing: ScheduleTiming, from: Date): Date | undefined {
  const limit = from.getTime() + SEARCH_LIMIT_MS;
  // The stretch begins at `from`, then at each change of offset; its runs are looked for after `after`.
  let begin = from.getTime();
  let after = begin;
  while (after < limit) {
    const offset = utcOffsetMinutes(timing.timezone, begin);
    const run = firstRunAfter(timing.cron, offset, after);
    const change = nextOffsetChange(timing.timezone, begin, Math.min(run, limit), offset);
    if (change === undefined) return run <= limit ? new Date(run) : undefined;
    const shiftMs = (utcOffsetMinutes(timing.timezone, change) - offset) * 60_000;
    if (shiftMs > 0 && run < change + shiftMs) {
      // A skipped wall time, read with the offset before the change; a run after the change may come first.
      return new Date(Math.min(run, firstRunAfter(timing.cron, offset + shiftMs / 60_000, change - 1)));
    }
    begin = change;
    after = change + Math.max(0, -shiftMs) - 1;
  }
  return undefined;
}

/** The first run of `cron` after `after` on a clock `offset` minutes from UTC, in ms. */
function firstRunAfter(cron: string, offset: number, after: number): number {
  return CronExpressionParser.parse(cron, { tz: fixedOffsetZone(offset), currentDate: new Date(after) }).next().getTime();
}

/**
 * The first instant after `begin`, up to `until`, where the zone's offset is no longer `offset`;
 * undefined if it stays. Read a day apart, then narrowed to the millisecond: zones change their
 * offset at most once in a day.
 */
function nextOffsetChange(timezone: string, begin: number, until: number, offset: number): number | undefined {
  let same = begin;
  for (;;) {
    const probe = Math.min(same + OFFSET_PROBE_MS, until);
    if (probe <= same) return undefined;
    if (utcOffsetMinutes(timezone, probe) !== offset) {
      let changed = probe;
      while (changed - same > 1) {
        const middle = Math.floor((same + changed) / 2);
        if (utcOffsetMinutes(timezone, middle) === offset) same = middle;
        else changed = middle;
      }
      return changed;
    }
    same = probe;
  }
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at `at`, in minutes (Lord Howe in winter: 630). */
export function utcOffsetMinutes(timezone: string, at: number): number {
  let format = offsetFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' });
    offsetFormats.set(timezone, format);
  }
  const name = format.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  // "GMT+10:30", "GMT-03:00", or "GMT" for UTC itself.
  const match = /^GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/** The fixed-offset zone of the parser's date library for `offset` minutes ("UTC+10:30", "UTC-3"). */
function fixedOffsetZone(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const hours = Math.floor(Math.abs(offset) / 60);
  const minutes = Math.abs(offset) % 60;
  return `UTC${sign}${hours}${minutes === 0 ? '' : `:${String(minutes).padStart(2, '0')}`}`;
}
