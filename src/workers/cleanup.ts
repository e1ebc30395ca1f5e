import type { Logger } from 'pino';
import { withTransaction, type Db, type DbClient } from '../shared/db/pool.js';
import type { FileStore } from '../shared/storage/file-store.js';
import {
  abandonedExportFiles,
  clearInputPath,
  clearResultPath,
  deleteExpiredEnrichmentCheckpoints,
  forgetExportAttemptFile,
  importStagingTables,
  jobsWithExpiredExportResults,
  jobsWithExpiredUploads,
  processingJobIds,
} from './cleanup-queries.js';
import { deleteExpiredRetryKeys } from '../shared/jobs/retry-keys.js';
import { dropStagingTables, jobIdOfReportTable } from './import/report-table.js';
import { withInlineUploads } from '../shared/storage/inline-uploads.js';

/** What one cleanup pass removed. */
export interface CleanupResult {
  stagingTablesDropped: number;
  uploadsRemoved: number;
  exportFilesRemoved: number;
  /** Writes abandoned half-way (a process died mid-upload): partial files, unfinished multipart uploads. */
  incompleteRemoved: number;
  /** Complete export files whose attempt died before recording them, of jobs that ended a day ago or more. */
  abandonedExportFilesRemoved: number;
  /** Checkpoints, with the products they took, of enrichments that ended longer ago than the upload retention. */
  enrichmentCheckpointsRemoved: number;
  /** Idempotency-Keys of retries taken more than 24 hours ago. */
  retryKeysRemoved: number;
}

/**
 * An upload or export still being written after this long was abandoned by a process that died,
 * and so was an export file not recorded this long after its job ended.
 */
const INCOMPLETE_AFTER_MS = 24 * 3_600_000;

export interface CleanupDeps {
  db: Db;
  uploads: FileStore;
  /**
   * Uploads of jobs that ended longer ago than this are removed (a retry needs them until then),
   * and so are the checkpoints of enrichments, with the products they took.
   */
  uploadRetentionDays: number;
  /** Export files of jobs that ended longer ago than this are removed (default 7). */
  exportRetentionDays?: number;
  /** The clock of the export retention (tests move it forward). */
  now?: () => Date;
  /** How many expired uploads a pass reads at a time (default 500). */
  uploadBatchSize?: number;
}

/**
 * One pass of housekeeping, safe to run from several workers at once: drops staging tables that
 * a crashed attempt left behind (only once their job is no longer processing, since a running
 * attempt may own them), removes uploads and export files past their retention, clearing the
 * job's input or result path, and removes writes that a dead process left unfinished (on either
 * store), with the complete export files of attempts that died before recording them. An upload kept in PostgreSQL (a small one) goes as a stored file does. The checkpoint
 * of an enrichment that ended as long ago as an upload goes too, with the products it took.
 *
 * A file the store fails to remove keeps its path in the job row, where the next pass finds it
 * again; the others are removed all the same. The pass then rejects, naming how many it could
 * not remove.
 */
export async function cleanupOnce(deps: CleanupDeps): Promise<CleanupResult> {
  const stagingTablesDropped = await dropAbandonedStagingTables(deps.db);
  const enrichmentCheckpointsRemoved = await deleteExpiredEnrichmentCheckpoints(deps.db, deps.uploadRetentionDays);
  const retryKeysRemoved = await deleteExpiredRetryKeys(deps.db);
  const failures: unknown[] = [];
  const uploadsRemoved = await removeExpiredUploads(deps, failures);
  const now = deps.now?.() ?? new Date();
  // Export files go after EXPORT_RETENTION_DAYS; the job then shows `links.result: null` and its
  // result download answers 404 (a download that read the row just before finds no file: 404 too).
  const expiredResults = await jobsWithExpiredExportResults(deps.db, now, deps.exportRetentionDays ?? 7);
  const exportFilesRemoved = await removeThenForget(
    deps.db,
    deps.uploads,
    expiredResults.map((job) => ({ path: job.result_path, forget: (client) => clearResultPath(client, job.id, job.result_path) })),
    failures,
  );
  const abandonedBefore = new Date(now.getTime() - INCOMPLETE_AFTER_MS);
  const incompleteRemoved = await deps.uploads.removeIncomplete(abandonedBefore);
  // A day after the job ended, an attempt that wrote one of these is not stopping any more.
  const abandonedExports = await abandonedExportFiles(deps.db, abandonedBefore);
  const abandonedExportFilesRemoved = await removeThenForget(
    deps.db,
    deps.uploads,
    abandonedExports.map((file) => ({ path: file.path, forget: (client) => forgetExportAttemptFile(client, file.job_id, file.path) })),
    failures,
  );
  if (failures.length > 0) {
    throw new AggregateError(failures, `${failures.length} expired file(s) could not be removed; their jobs keep their paths for the next pass`);
  }
  return {
    stagingTablesDropped,
    uploadsRemoved,
    exportFilesRemoved,
    incompleteRemoved,
    abandonedExportFilesRemoved,
    enrichmentCheckpointsRemoved,
    retryKeysRemoved,
  };
}

/**
 * Removes the uploads past their retention, a batch at a time in the order their jobs ended, so a
 * pass holds one batch in memory however many have expired (after an outage, or a retention
 * made shorter). Each batch continues after the last job of the one before, so an upload the
 * store fails to remove, which stays on its job, is not read again in this pass. Returns how
 * many were removed.
 */
async function removeExpiredUploads(deps: CleanupDeps, failures: unknown[]): Promise<number> {
  const store = withInlineUploads(deps.db, deps.uploads);
  const limit = deps.uploadBatchSize ?? 500;
  let removed = 0;
  let after: { finishedKey: string; id: string } | undefined;
  for (;;) {
    const batch = await jobsWithExpiredUploads(deps.db, deps.uploadRetentionDays, { limit, after });
    removed += await removeThenForget(
      deps.db,
      store,
      batch.map((job) => ({ path: job.input_path, forget: (client) => clearInputPath(client, job.id, job.input_path, deps.uploadRetentionDays) })),
      failures,
    );
    const last = batch.at(-1);
    if (!last || batch.length < limit) return removed;
    after = { finishedKey: last.finished_key, id: last.id };
  }
}

/** Drops the staging tables of jobs that are no longer processing; returns how many. */
async function dropAbandonedStagingTables(db: Db): Promise<number> {
  const byJob = new Map<string, string[]>();
  for (const tablename of await importStagingTables(db)) {
    const jobId = jobIdOfReportTable(tablename);
    if (jobId) byJob.set(jobId, [...(byJob.get(jobId) ?? []), tablename]);
  }
  if (byJob.size === 0) return 0;
  let dropped = 0;
  const running = await processingJobIds(db, [...byJob.keys()]);
  for (const [jobId, names] of byJob) {
    if (running.has(jobId)) continue;
    if (await dropStagingTables(db, names)) dropped += names.length;
  }
  return dropped;
}

/**
 * Removes each file that its job still lets go, one transaction a file: `forget` checks the job
 * row again and forgets the path (false: keep the file, another pass forgot it or a retry needs it
 * again), the file is removed while that row stays locked, then the transaction commits. So a
 * retry waits for the removal and then finds the path gone, and a file is never removed from
 * under a job that took it back since the pass chose it (a large pass on object storage takes
 * minutes). A removal that fails rolls the forgetting back: its path stays on the job, where the
 * next pass finds it again (a file left is better than a path to nothing). A failure is added to
 * `failures` and the next file goes on. Returns how many paths this pass forgot.
 */
async function removeThenForget(
  db: Db,
  store: FileStore,
  files: Array<{ path: string; forget: (client: DbClient) => Promise<boolean> }>,
  failures: unknown[],
): Promise<number> {
  let forgotten = 0;
  for (const file of files) {
    try {
      const removed = await withTransaction(db, async (client) => {
        if (!(await file.forget(client))) return false;
        await store.remove(file.path);
        return true;
      });
      if (removed) forgotten += 1;
    } catch (error) {
      failures.push(error);
    }
  }
  return forgotten;
}

/**
 * Runs {@link cleanupOnce} now and then every `intervalMs`, one pass at a time: a pass that
 * outlasts the interval (many expired files on a slow store) is not joined by a second one in
 * this process, which would find the same files and wait on the same job rows. Returns a function
 * that stops it.
 */
export function scheduleCleanup(deps: CleanupDeps & { logger: Logger }, intervalMs = 3_600_000): () => void {
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    void cleanupOnce(deps)
      .then((result) => {
        if (Object.values(result).some((count) => count > 0)) deps.logger.info(result, 'cleanup');
      })
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'cleanup failed; will retry'))
      .finally(() => {
        running = false;
      });
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
