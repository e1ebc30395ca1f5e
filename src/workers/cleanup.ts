import type { Logger } from 'pino';
import type { Db } from '../shared/db/pool.js';
import type { FileStore } from '../shared/storage/file-store.js';
import { clearInputPath, importStagingTables, jobsWithExpiredUploads, processingJobIds, takeExpiredExportResults } from './cleanup-queries.js';
import { dropStagingTables, jobIdOfReportTable } from './import/report-table.js';
import { withInlineUploads } from '../shared/storage/inline-uploads.js';

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
 * removes writes that a dead process left unfinished (on either store). An upload kept in
 * PostgreSQL (a small one) goes as a stored file does.
 */
export async function cleanupOnce(deps: CleanupDeps): Promise<CleanupResult> {
  const byJob = new Map<string, string[]>();
  for (const tablename of await importStagingTables(deps.db)) {
    const jobId = jobIdOfReportTable(tablename);
    if (jobId) byJob.set(jobId, [...(byJob.get(jobId) ?? []), tablename]);
  }
  let stagingTablesDropped = 0;
  if (byJob.size > 0) {
    const running = await processingJobIds(deps.db, [...byJob.keys()]);
    for (const [jobId, names] of byJob) {
      if (running.has(jobId)) continue;
      if (await dropStagingTables(deps.db, names)) stagingTablesDropped += names.length;
    }
  }
  const expired = await jobsWithExpiredUploads(deps.db, deps.uploadRetentionDays);
  const uploads = withInlineUploads(deps.db, deps.uploads);
  for (const job of expired) {
    await uploads.remove(job.input_path);
    await clearInputPath(deps.db, job.id);
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
  const expired = await takeExpiredExportResults(deps.db, now, deps.exportRetentionDays ?? 7);
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
