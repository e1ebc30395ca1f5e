import { releaseExpiredIdempotencyKey } from '../db/idempotency-keys.js';
import { withTransaction, type Db, type DbClient } from '../db/pool.js';
import type { BoundedRows } from '../db/byte-bounded-page.js';
import { newestFirstPage, type NewestFirstAfter } from '../db/newest-first-page.js';
import type { ExportOptions } from '../jobs/export-options.js';

/** A row of `export_schedules`. */
export interface ExportScheduleRow {
  id: string;
  account_id: string;
  cron: string;
  timezone: string;
  export: ExportOptions;
  created_at: Date;
}

const COLUMNS = 'id, account_id, cron, timezone, export, created_at';

/** What {@link insertExportSchedule} came to. */
export type ScheduleInsertOutcome =
  | { created: ExportScheduleRow }
  /** A schedule made in the last 24 hours with the same Idempotency-Key, and the hash of its request. */
  | { earlier: ExportScheduleRow; requestHash: string | null }
  | { limitReached: true };

/** A new schedule, with the Idempotency-Key (and its request's hash) it was created with, if any. */
export interface NewExportSchedule {
  id: string;
  cron: string;
  timezone: string;
  export: ExportOptions;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/**
 * Stores a new schedule, unless one made with the same Idempotency-Key in the last 24 hours answers
 * for it, or the account already has `maxPerAccount`. The account's row is locked first, so two
 * creations at once cannot both pass the count nor both take the key: the second looks after the
 * first has committed (each look is a statement of its own, with a fresh snapshot).
 */
export async function insertExportSchedule(
  db: Db,
  accountId: string,
  schedule: NewExportSchedule,
  maxPerAccount: number,
): Promise<ScheduleInsertOutcome> {
  return withTransaction(db, async (client) => {
    await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
    if (schedule.idempotencyKey !== null) {
      const earlier = await scheduleByIdempotencyKey(client, accountId, schedule.idempotencyKey);
      if (earlier) return earlier;
    }
    const { rows: counted } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM export_schedules WHERE account_id = $1',
      [accountId],
    );
    if (counted[0]!.n >= maxPerAccount) return { limitReached: true };
    const { rows } = await client.query<ExportScheduleRow>(
      `INSERT INTO export_schedules (id, account_id, cron, timezone, export, idempotency_key, request_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [schedule.id, accountId, schedule.cron, schedule.timezone, schedule.export, schedule.idempotencyKey, schedule.requestHash],
    );
    return { created: rows[0]! };
  });
}

/**
 * The schedule the account created with this Idempotency-Key in the last 24 hours, as for jobs
 * (see findJobByIdempotencyKey): an older key is released first, so it can be used again.
 */
async function scheduleByIdempotencyKey(
  client: DbClient,
  accountId: string,
  key: string,
): Promise<{ earlier: ExportScheduleRow; requestHash: string | null } | null> {
  await releaseExpiredIdempotencyKey(client, 'export_schedules', accountId, key);
  const { rows } = await client.query<ExportScheduleRow & { request_hash: string | null }>(
    `SELECT ${COLUMNS}, request_hash FROM export_schedules WHERE account_id = $1 AND idempotency_key = $2`,
    [accountId, key],
  );
  const row = rows[0];
  if (!row) return null;
  const { request_hash: requestHash, ...earlier } = row;
  return { earlier, requestHash };
}

/** One schedule of the account, or null (also for another account's). */
export async function findExportSchedule(db: Db, accountId: string, id: string): Promise<ExportScheduleRow | null> {
  const { rows } = await db.query<ExportScheduleRow>(
    `SELECT ${COLUMNS} FROM export_schedules WHERE account_id = $1 AND id = $2`,
    [accountId, id],
  );
  return rows[0] ?? null;
}

/** The account's schedules, newest first: one page, at most `limit` and PAGE_BYTE_BUDGET bytes of them, and whether there is more. */
export async function listExportSchedules(
  db: Db,
  accountId: string,
  query: { limit: number; after?: NewestFirstAfter },
): Promise<BoundedRows<ExportScheduleRow & { created_at_key: string }>> {
  return newestFirstPage<ExportScheduleRow>(db, 'export_schedules', COLUMNS, accountId, query);
}

/** Deletes one schedule of the account; false when there was none. */
export async function deleteExportSchedule(db: Db, accountId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM export_schedules WHERE account_id = $1 AND id = $2', [accountId, id]);
  return (rowCount ?? 0) > 0;
}

/**
 * Writes the export job of one schedule tick, once: the tick's id is the job's idempotency key,
 * so a tick delivered twice finds the job of its first delivery. Returns the job id.
 */
export async function insertScheduledExportJob(
  db: Db,
  accountId: string,
  tick: { jobId: string; scheduleId: string; tickKey: string; options: ExportOptions },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO jobs (id, account_id, type, options, schedule_id, idempotency_key)
     VALUES ($1, $2, 'export', $3, $4, $5)
     ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING id`,
    [tick.jobId, accountId, tick.options, tick.scheduleId, tick.tickKey],
  );
  if (rows[0]) return rows[0].id;
  const { rows: existing } = await db.query<{ id: string }>(
    'SELECT id FROM jobs WHERE account_id = $1 AND idempotency_key = $2',
    [accountId, tick.tickKey],
  );
  return existing[0]!.id;
}

/** What registering a schedule's BullMQ job scheduler needs. */
export type ScheduleTimingRow = Pick<ExportScheduleRow, 'id' | 'account_id' | 'cron' | 'timezone'>;

/**
 * One batch of every account's schedules in id order, after `afterId` (null: from the start).
 * Across accounts on purpose: the workers re-register all schedulers after Redis lost them, so
 * this is the one schedule query without an account id. Keyset pages keep each read short.
 */
export async function listScheduleTimingsBatch(
  db: Db,
  query: { afterId: string | null; limit: number },
): Promise<ScheduleTimingRow[]> {
  const { rows } = await db.query<ScheduleTimingRow>(
    `SELECT id, account_id, cron, timezone FROM export_schedules
     WHERE $1::uuid IS NULL OR id > $1::uuid
     ORDER BY id
     LIMIT $2`,
    [query.afterId, query.limit],
  );
  return rows;
}
