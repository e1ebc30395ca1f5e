import type { Logger } from 'pino';
import type { Db } from '../../shared/db/pool.js';
import {
  findExportSchedule,
  listScheduleTimingsBatch,
  type ScheduleTimingRow,
} from '../../shared/schedules/export-schedule-queries.js';
import type { ExportScheduler } from '../../shared/schedules/export-scheduler.js';

/** How many schedules one read takes. */
const RESTORE_BATCH_SIZE = 500;

/** What restoring schedules needs: the database, and the job schedulers in Redis. */
export interface RestoreSchedulesDeps {
  db: Db;
  scheduler: Pick<ExportScheduler, 'has' | 'upsert' | 'remove'>;
  logger: Logger;
}

/**
 * Registers again the BullMQ job scheduler of every stored export schedule (all accounts, in
 * batches of `batchSize`) that Redis no longer has — after a FLUSHALL, or a restart without
 * persistence — so its ticks resume. Returns the ids registered again.
 *
 * Only missing schedulers are upserted: upserting a cron scheduler whose tick is waiting in the
 * queue replaces that tick with the next one, so upserting every schedule on every pass would
 * drop ticks. Safe from several processes at once (an upsert of one id is idempotent).
 */
export async function restoreExportSchedules(deps: RestoreSchedulesDeps, batchSize = RESTORE_BATCH_SIZE): Promise<string[]> {
  const restored: string[] = [];
  let afterId: string | null = null;
  for (;;) {
    const batch: ScheduleTimingRow[] = await listScheduleTimingsBatch(deps.db, { afterId, limit: batchSize });
    const present = await Promise.all(batch.map((schedule) => deps.scheduler.has(schedule.id)));
    for (const [index, schedule] of batch.entries()) {
      if (present[index]) continue;
      if (await restoreOne(deps, schedule)) restored.push(schedule.id);
    }
    if (batch.length < batchSize) break;
    afterId = batch.at(-1)!.id;
  }
  if (restored.length > 0) deps.logger.warn({ scheduleIds: restored }, 'export schedules lost by Redis were registered again');
  return restored;
}

/**
 * Registers one schedule's job scheduler; false when it could not be, or the schedule was deleted
 * meanwhile. DELETE removes the scheduler before the row, so a schedule being deleted right now
 * can be registered again here; the check after the upsert removes it, and a tick of a deleted
 * schedule removes its scheduler anyway (runScheduleTick).
 */
async function restoreOne(deps: RestoreSchedulesDeps, schedule: ScheduleTimingRow): Promise<boolean> {
  const log = deps.logger.child({ scheduleId: schedule.id, accountId: schedule.account_id });
  try {
    await deps.scheduler.upsert(schedule);
    if (await findExportSchedule(deps.db, schedule.account_id, schedule.id)) return true;
    await deps.scheduler.remove(schedule.id);
    return false;
  } catch (error) {
    log.warn({ err: error }, 'could not register the export schedule again');
    return false;
  }
}
