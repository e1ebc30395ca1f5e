import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { findAccount } from '../../shared/accounts/account-queries.js';
import type { Db } from '../../shared/db/pool.js';
import { defaultJobOptions, QUEUE_NAMES, queuePrefix, type QueuedJob } from '../../shared/queues.js';
import { findExportSchedule, insertScheduledExportJob } from '../../shared/schedules/export-schedule-queries.js';
import { EXPORT_SCHEDULE_QUEUE, scheduleTickSettings, type ScheduleTick } from '../../shared/schedules/export-scheduler.js';
import type { WorkerDeps } from '../job-processor.js';
import type { Track } from '../worker-watchdog.js';

/** What handling one tick needs: the database, and a way to queue the export it starts. */
export interface ScheduleTickDeps {
  db: Db;
  enqueueExport(jobId: string): Promise<void>;
  /** Stops the ticks of a schedule that no longer exists. */
  removeScheduler(scheduleId: string): Promise<void>;
}

/**
 * What one tick did: started (or found again) an export job, or skipped the run. A skipped run
 * leaves no job; the reason is the tick's BullMQ return value and a log line.
 */
export type TickOutcome = { jobId: string } | { skipped: 'schedule_deleted' | 'account_suspended' };

/**
 * Handles one tick of an export schedule: writes a normal export job row (with `schedule_id`)
 * and queues it. `tickKey` identifies the tick (the BullMQ job id): a tick delivered twice finds
 * the job of its first delivery and queues that same id again, which BullMQ ignores. A deleted
 * schedule's ticks stop; a suspended account's runs are skipped (no job, nothing queued) while
 * its schedule stays, so that runs resume at the first tick after it is unsuspended.
 */
export async function runScheduleTick(deps: ScheduleTickDeps, tick: ScheduleTick, tickKey: string): Promise<TickOutcome> {
  const schedule = await findExportSchedule(deps.db, tick.accountId, tick.scheduleId);
  if (!schedule) {
    await deps.removeScheduler(tick.scheduleId);
    return { skipped: 'schedule_deleted' };
  }
  if ((await findAccount(deps.db, schedule.account_id))?.suspended !== false) return { skipped: 'account_suspended' };
  const jobId = await insertScheduledExportJob(deps.db, schedule.account_id, {
    jobId: randomUUID(),
    scheduleId: schedule.id,
    tickKey: `schedule-tick:${tickKey}`,
    options: schedule.export,
  });
  await deps.enqueueExport(jobId);
  return { jobId };
}

/**
 * Starts the worker that consumes schedule ticks. BullMQ's job schedulers add one job per tick
 * to the queue, and one worker takes each job, so a tick runs once however many processes run.
 */
export function startScheduleWorker(deps: WorkerDeps, track: Track = (processor) => processor): Worker {
  const prefix = queuePrefix(deps.config);
  const exports = new Queue<QueuedJob>(QUEUE_NAMES.export, {
    connection: deps.connection,
    prefix,
    defaultJobOptions: defaultJobOptions(deps.config),
  });
  exports.on('error', (error) => deps.logger.warn({ err: error }, 'export queue error'));
  const settings = scheduleTickSettings(deps.logger);
  const schedules = new Queue<ScheduleTick>(EXPORT_SCHEDULE_QUEUE, { connection: deps.connection, prefix, settings });
  schedules.on('error', (error) => deps.logger.warn({ err: error }, 'export schedule queue error'));
  const tickDeps: ScheduleTickDeps = {
    db: deps.db,
    enqueueExport: async (jobId) => {
      await exports.add('export', { jobId }, { jobId });
    },
    removeScheduler: async (scheduleId) => {
      await schedules.removeJobScheduler(scheduleId);
    },
  };
  const worker = new Worker<ScheduleTick>(
    EXPORT_SCHEDULE_QUEUE,
    track<ScheduleTick>(async (job: Job<ScheduleTick>) => {
      const outcome = await runScheduleTick(tickDeps, job.data, job.id ?? `${job.data.scheduleId}:${job.timestamp}`);
      const message = 'jobId' in outcome ? 'export schedule tick' : `export schedule tick skipped: ${outcome.skipped.replace('_', ' ')}`;
      deps.logger.info({ scheduleId: job.data.scheduleId, accountId: job.data.accountId, ...outcome }, message);
      return outcome;
    }),
    // The tick after this one is chosen here, by the same computation as next_run_at.
    { connection: deps.connection, prefix, concurrency: 1, settings },
  );
  worker.on('error', (error) => deps.logger.error({ err: error, queue: worker.name }, 'worker error'));
  worker.on('closed', () => void Promise.all([exports.close(), schedules.close()]).catch(() => {}));
  return worker;
}
