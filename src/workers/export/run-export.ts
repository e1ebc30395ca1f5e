import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { withTransaction, type Db } from '../../shared/db/pool.js';
import { exportResultPath } from '../../shared/jobs/export-file.js';
import { exportOptionsSchema } from '../../shared/jobs/export-options.js';
import {
  finishJob,
  saveProgress,
  startJobAttempt,
  type JobOutcome,
} from '../../shared/jobs/job-queries.js';
import { lockClaimedJob } from '../../shared/jobs/run-claim-queries.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { noteExportAttemptFile, saveExportResult } from './export-queries.js';
import { refuseOverLimit, refuseWhenFull, type ExportStorageLimit } from './export-storage.js';
import { writeSnapshot } from './snapshot-writer.js';

/** What an export attempt needs from the process. */
export interface ExportDeps {
  db: Db;
  /** The file store the result file is written to (local folder or object storage). */
  files: FileStore;
  logger: Logger;
  /** How often progress is written to the job row. */
  progressIntervalMs?: number;
  /** The account's cap of stored export bytes; unset, none. */
  storageLimit?: ExportStorageLimit;
}

/**
 * Runs one attempt of export job `jobId`: streams the snapshot into the file store (a `.part`
 * file renamed at the end, or a multipart upload completed at the end), then records the file and
 * `completed` in one transaction. Returns the outcome, or null when the job had already ended (a
 * duplicate delivery, or cancelled just before the end). Never leaves a partial file: on any failure, cancellation or shutdown the file is
 * removed and the error is thrown (an I/O failure is retried by the queue). The file's name is
 * noted on the job before it is written: if the process dies before it records or removes the
 * file, the periodic cleanup removes it once the job has ended. With a storage limit,
 * an export of an account whose stored files fill it is not run, and one whose file does not fit
 * is not kept: the job fails with EXPORT_FAILED and the account's earlier results stay. Given the
 * run's claim token (see withRunClaim), the file is recorded only while the run holds the claim.
 */
export async function runExport(deps: ExportDeps, jobId: string, signal: AbortSignal, claimToken?: string): Promise<JobOutcome | null> {
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
  const full = deps.storageLimit && (await refuseWhenFull(deps.db, job.account_id, deps.storageLimit));
  if (full) {
    await finishJob(deps.db, jobId, full);
    log.info({ detail: full.detail }, 'export refused: stored export files at the limit');
    return full;
  }
  // A name of its own per attempt: two deliveries of one job never write or remove each other's file.
  const resultPath = exportResultPath(`${jobId}-${randomBytes(4).toString('hex')}`, options);
  await noteExportAttemptFile(deps.db, jobId, resultPath);
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

  const outcome = await recordResult(deps, { jobId, accountId: job.account_id, resultPath, size, rows, claimToken });
  if (outcome === null) {
    // Cancelled (or finished by another delivery) while the file was being written.
    signal.throwIfAborted();
    log.info('export already ended elsewhere; its file was discarded');
    return null;
  }
  if (outcome.status !== 'completed') {
    log.info({ detail: outcome.detail }, 'export refused: over the stored export files limit');
    return outcome;
  }
  log.info({ rows, ms: Date.now() - startedAt }, 'export finished');
  return outcome;
}

/**
 * Records a written export file and `completed` in one transaction, or, past the account's storage
 * limit, the failure instead. Returns the outcome recorded, or null when the job had already
 * ended or another run took its claim over (this run's worker was stopped past its lease, and the
 * other run writes the file again). The file is removed unless it was recorded as the job's result.
 */
async function recordResult(
  deps: ExportDeps,
  result: { jobId: string; accountId: string; resultPath: string; size: number; rows: number; claimToken: string | undefined },
): Promise<JobOutcome | null> {
  const { jobId, rows, size } = result;
  const completed: JobOutcome = { status: 'completed', counts: { rowsTotal: rows, rowsProcessed: rows, rowsSucceeded: rows } };
  let recorded: JobOutcome | null = null;
  try {
    recorded = await withTransaction(deps.db, async (client) => {
      if (!(await lockClaimedJob(client, jobId, result.claimToken))) return null;
      const overLimit = deps.storageLimit && (await refuseOverLimit(client, result.accountId, size, deps.storageLimit));
      if (overLimit) return (await finishJob(client, jobId, overLimit)) ? overLimit : null;
      if (!(await saveExportResult(client, jobId, result.resultPath, size))) return null;
      return (await finishJob(client, jobId, completed)) ? completed : null;
    });
  } finally {
    if (recorded !== completed) await deps.files.remove(result.resultPath);
  }
  return recorded;
}
