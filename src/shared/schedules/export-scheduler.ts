import { Queue, type AdvancedRepeatOptions } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import type { Logger } from 'pino';
import type { RedisConnection } from '../redis-connection.js';
import type { Config } from '../config.js';
import type { FieldProblem } from '../field-problems.js';
import { queuePrefix } from '../queues.js';
import { nextRunAt, type ScheduleTiming } from './next-run-at.js';

export { nextRunAt, type ScheduleTiming } from './next-run-at.js';

/** The BullMQ queue that carries the ticks of export schedules. */
export const EXPORT_SCHEDULE_QUEUE = 'export-schedules';

/** What one tick carries: which schedule of which account fired (the rest is in PostgreSQL). */
export interface ScheduleTick {
  scheduleId: string;
  accountId: string;
}

/**
 * The job every tick of schedule `scheduleId` adds. Ticks are retried on I/O failures; the
 * export job a tick creates is keyed by the tick, so a retried tick never starts two exports.
 */
export function scheduleTickTemplate(tick: ScheduleTick) {
  return {
    name: 'export-schedule-tick',
    data: tick,
    opts: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 24 * 3600, count: 1_000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 1_000 },
    },
  };
}

/** Month and day names, the only words standard cron takes. */
const CRON_NAMES = /jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat/gi;

/** Whether a cron uses the parser's hashed values (H, H(…), H/…, 1-H, H#2, HL): an H left once the names are taken out. */
const hashed = (cron: string) => /h/i.test(cron.replace(CRON_NAMES, ''));

/** Problems of a cron expression and time zone, for a 400 (empty when both are fine). */
export function timingProblems(timing: ScheduleTiming): FieldProblem[] {
  const problems: FieldProblem[] = [];
  let zoneOk = true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timing.timezone });
  } catch {
    zoneOk = false;
    problems.push({
      field: 'timezone',
      message: `Unknown time zone '${timing.timezone}': use an IANA name such as Europe/Berlin or UTC.`,
    });
  }
  const fields = timing.cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    problems.unshift({
      field: 'cron',
      message: `The cron expression must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}: '${timing.cron}'.`,
    });
  } else if (hashed(timing.cron)) {
    // The parser picks H's value at random on every parse: next_run_at would change from one read to the next.
    problems.unshift({ field: 'cron', message: `Invalid cron expression '${timing.cron}': H (a hashed value) is not standard cron; name the minute and hour.` });
  } else {
    try {
      CronExpressionParser.parse(timing.cron, zoneOk ? { tz: timing.timezone } : {});
    } catch (error) {
      problems.unshift({ field: 'cron', message: `Invalid cron expression '${timing.cron}': ${(error as Error).message}.` });
    }
  }
  return problems;
}

/**
 * The settings of every Queue and Worker of export-schedule ticks: BullMQ picks each next tick
 * (when a schedule is upserted, and when a worker takes a tick) with {@link nextRunAt}, the one
 * computation next_run_at shows. Its default would use its own copy of the cron parser, which
 * drops the run of a day whose midnight a daylight-saving change skips (America/Santiago, the
 * Azores). `millis` is the tick just taken or the time now, whichever is later, as for the
 * default; schedules set no startDate, endDate or immediately.
 *
 * The strategy never throws: BullMQ's worker would then leave the tick it took unprocessed, and
 * the schedule would stop. A run nextRunAt cannot find is logged on `logger`, and BullMQ adds no
 * next tick (the schedule runs again once it is deleted and created again).
 */
export function scheduleTickSettings(logger?: Pick<Logger, 'error'>): AdvancedRepeatOptions {
  return {
    repeatStrategy: (millis, opts) => {
      if (opts.pattern === undefined) return undefined;
      const timing = { cron: opts.pattern, timezone: opts.tz ?? 'UTC' };
      try {
        return nextRunAt(timing, new Date(millis)).getTime();
      } catch (error) {
        logger?.error({ err: error, ...timing, from: new Date(millis).toISOString() }, 'export schedule: no next run found; no further tick is added');
        return undefined;
      }
    },
  };
}

/**
 * The producer side of export schedules: one BullMQ job scheduler per schedule (id = schedule
 * id), so each tick adds exactly one job however many worker processes consume the queue.
 */
export class ExportScheduler {
  readonly queue: Queue<ScheduleTick>;

  /** `logger` hears of a schedule whose next run cannot be found ({@link scheduleTickSettings}). */
  constructor(connection: RedisConnection, config: Pick<Config, 'QUEUE_PREFIX'>, logger?: Pick<Logger, 'error'>) {
    this.queue = new Queue<ScheduleTick>(EXPORT_SCHEDULE_QUEUE, { connection, prefix: queuePrefix(config), settings: scheduleTickSettings(logger) });
    // Connection errors surface on the calls below; without a listener they would be printed.
    this.queue.on('error', () => {});
  }

  /** Creates or replaces the job scheduler of a schedule. */
  async upsert(schedule: ScheduleTiming & { id: string; account_id: string }): Promise<void> {
    await this.queue.upsertJobScheduler(
      schedule.id,
      { pattern: schedule.cron, tz: schedule.timezone },
      scheduleTickTemplate({ scheduleId: schedule.id, accountId: schedule.account_id }),
    );
  }

  /** Whether the job scheduler of a schedule is registered (false after Redis lost it). */
  async has(scheduleId: string): Promise<boolean> {
    return (await this.queue.getJobScheduler(scheduleId)) !== undefined;
  }

  /** Removes the job scheduler of a schedule (no more ticks). */
  async remove(scheduleId: string): Promise<void> {
    await this.queue.removeJobScheduler(scheduleId);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
