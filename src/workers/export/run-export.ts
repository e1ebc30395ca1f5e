import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { withTransaction, type Db } from '../../shared/db/pool.js';
import { exportResultPath } from '../../shared/jobs/export-file.js';
import { exportOptionsSchema } from '../../shared/jobs/export-options.js';
import {
  finishJob,
  lockProcessingJob,
  saveProgress,
  startJobAttempt,
  type JobOutcome,
} from '../../shared/jobs/job-queries.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { writeSnapshot } from './snapshot-writer.js';

/** What an export attempt needs from the process. */
export interface ExportDeps {
  db: Db;
  /** The file store the result file is written to (local folder or object storage). */
  files: FileStore;
  logger: Logger;
  /** How often progress is written to the job row. */
  progressIntervalMs?: number;
}

/**
 * Runs one attempt of export job `jobId`: streams the snapshot into the file store (a `.part`
 * file renamed at the end, or a multipart upload completed at the end), then records the file and `completed` in one transaction. Returns the outcome,
 * or null when the job had already ended (a duplicate delivery, or cancelled just before the
 * end). Never leaves a partial file: on any failure, cancellation or shutdown the file is
 * removed and the error is thrown (an I/O failure is retried by the queue).
 */
export async function runExport(deps: ExportDeps, jobId: string, signal: AbortSignal): Promise<JobOutcome | null> {
  const job = await startJobAttempt(deps.db, jobId);
  if (!job) return null;
  const log = deps.logger.child({ jobId, accountId: job.account_id, attempt: job.attempts });
  const parsed = exportOptionsSchema.safeParse(job.options);
  if (!parsed.success) {
    const outcome: JobOutcome = { status: 'failed', errorCode: 'EXPORT_FAILED', detail: 'The export options of this job are invalid.' };
    await finishJob(deps.db, jobId, outcome);
    return outcome;
  }
  const options = parsed.data;
  // A name of its own per attempt: two deliveries of one job never write or remove each other's file.
  const resultPath = exportResultPath(`${jobId}-${randomBytes(4).toString('hex')}`, options);
  const writer = deps.files.createWriter(resultPath);
  const startedAt = Date.now();
  log.info({ options }, 'export started');

  let counter: { readonly rows: number } = { rows: 0 };
  let progressWrite = Promise.resolve();
  const timer = setInterval(() => {
    const rowsProcessed = counter.rows;
    progressWrite = progressWrite
      .then(() => saveProgress(deps.db, jobId, { rowsProcessed, rowsFailed: 0 }))
      .catch((error: unknown) => log.warn({ err: error }, 'could not save export progress'));
  }, deps.progressIntervalMs ?? 1_000);
  let rows: number;
  let size: number;
  try {
    rows = await writeSnapshot(deps.db, {
      accountId: job.account_id,
      options,
      target: writer.stream,
      signal,
      onSnapshot: async () => {},
      onStream: (stream) => (counter = stream),
    });
    signal.throwIfAborted();
    size = await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    clearInterval(timer);
    await progressWrite;
  }

  const outcome: JobOutcome = {
    status: 'completed',
    counts: { rowsTotal: rows, rowsProcessed: rows, rowsSucceeded: rows },
  };
  let recorded = false;
  try {
    recorded = await withTransaction(deps.db, async (client) => {
      if (!(await lockProcessingJob(client, jobId))) return false;
      await client.query('UPDATE jobs SET result_path = $2, result_bytes = $3 WHERE id = $1', [jobId, resultPath, size]);
      return finishJob(client, jobId, outcome);
    });
  } finally {
    if (!recorded) await deps.files.remove(resultPath);
  }
  if (!recorded) {
    // Cancelled (or finished by another delivery) while the file was being written.
    signal.throwIfAborted();
    log.info('export already ended elsewhere; its file was discarded');
    return null;
  }
  log.info({ rows, ms: Date.now() - startedAt }, 'export finished');
  return outcome;
}
