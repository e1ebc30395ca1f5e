import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import type { FileStore } from '../shared/storage/file-store.js';
import { dropStagingTables, jobIdOfReportTable } from './import/report-table.js';

/** What one cleanup pass removed. */
export interface CleanupResult {
  stagingTablesDropped: number;
  uploadsRemoved: number;
  exportFilesRemoved: number;
  /** Writes abandoned half-way (a process died mid-upload): partial files, unfinished multipart uploads. */
  incompleteRemoved: number;
}

/** An upload or export still being written after this long was abandoned by a process that died. */
const INCOMPLETE_AFTER_MS = 24 * 3_600_000;

export interface CleanupDeps {
  db: Db;
  uploads: FileStore;
  /** Uploads of jobs that ended longer ago than this are removed (a retry needs them until then). */
  uploadRetentionDays: number;
  /** Export files of jobs that ended longer ago than this are removed (default 7). */
  exportRetentionDays?: number;
  /** The clock of the export retention (tests move it forward). */
  now?: () => Date;
}

/**
 * One pass of housekeeping, safe to run from several workers at once: drops staging tables that
 * a crashed attempt left behind (only once their job is no longer processing, since a running
 * attempt may own them), removes uploads past their retention, clearing the job's input path, and
 * removes writes that a dead process left unfinished (on either store).
 */
export async function cleanupOnce(deps: CleanupDeps): Promise<CleanupResult> {
  const { rows: tables } = await deps.db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'import_staging'`,
  );
  const byJob = new Map<string, string[]>();
  for (const { tablename } of tables) {
    const jobId = jobIdOfReportTable(tablename);
    if (jobId) byJob.set(jobId, [...(byJob.get(jobId) ?? []), tablename]);
  }
  let stagingTablesDropped = 0;
  if (byJob.size > 0) {
    const { rows: active } = await deps.db.query<{ id: string }>(
      `SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'processing'`,
      [[...byJob.keys()]],
    );
    const running = new Set(active.map((job) => job.id));
    for (const [jobId, names] of byJob) {
      if (running.has(jobId)) continue;
      if (await dropStagingTables(deps.db, names)) stagingTablesDropped += names.length;
    }
  }
  const { rows: expired } = await deps.db.query<{ id: string; input_path: string }>(
    `SELECT id, input_path FROM jobs
     WHERE input_path IS NOT NULL AND status <> 'processing'
       AND finished_at < now() - make_interval(days => $1)`,
    [deps.uploadRetentionDays],
  );
  for (const job of expired) {
    await deps.uploads.remove(job.input_path);
    await deps.db.query('UPDATE jobs SET input_path = NULL WHERE id = $1', [job.id]);
  }
  const exportFilesRemoved = await removeExpiredExportFiles(deps);
  const now = deps.now?.() ?? new Date();
  const incompleteRemoved = await deps.uploads.removeIncomplete(new Date(now.getTime() - INCOMPLETE_AFTER_MS));
  return { stagingTablesDropped, uploadsRemoved: expired.length, exportFilesRemoved, incompleteRemoved };
}

/**
 * Removes export files past EXPORT_RETENTION_DAYS and clears the job's `result_path`, so the job
 * shows `links.result: null` and its result download answers 404. The path is cleared first: a
 * download then never finds a row pointing at a file that is being removed.
 */
async function removeExpiredExportFiles(deps: CleanupDeps): Promise<number> {
  const now = deps.now?.() ?? new Date();
  const { rows: expired } = await deps.db.query<{ id: string; result_path: string }>(
    `WITH expired AS (
       SELECT id, result_path FROM jobs
       WHERE result_path IS NOT NULL AND finished_at < $1::timestamptz - make_interval(days => $2)
       FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs SET result_path = NULL FROM expired WHERE jobs.id = expired.id
     RETURNING jobs.id, expired.result_path`,
    [now, deps.exportRetentionDays ?? 7],
  );
  for (const job of expired) await deps.uploads.remove(job.result_path);
  return expired.length;
}

/** Runs {@link cleanupOnce} now and then every `intervalMs`; returns a function that stops it. */
export function scheduleCleanup(deps: CleanupDeps & { logger: Logger }, intervalMs = 3_600_000): () => void {
  const run = () =>
    cleanupOnce(deps)
      .then((result) => {
        if (Object.values(result).some((count) => count > 0)) deps.logger.info(result, 'cleanup');
      })
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'cleanup failed; will retry'));
  void run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
