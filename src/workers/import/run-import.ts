import type { Logger } from 'pino';
import type { Db } from '../../shared/db/pool.js';
import { startJobAttempt, type JobOutcome } from '../../shared/jobs/job-queries.js';
import { importOptionsSchema } from '../../shared/jobs/import-options.js';
import type { HeldRunClaim } from '../../shared/jobs/run-claim-queries.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { isMissingFile } from '../../shared/storage/storage-errors.js';
import { finalizeImport } from './finalize.js';
import { ImportWriter } from './import-writer.js';
import { MissingUploadError } from './lost-upload.js';
import { readFile } from './read-file.js';
import { createReportTable, dropLeftoverReportTables, dropReportTable, reportTableFor } from './report-table.js';

/** What an import attempt needs from the process. */
export interface ImportDeps {
  db: Db;
  uploads: FileStore;
  logger: Logger;
  maxRecordBytes: number;
  /** Most bytes an .xlsx workbook may inflate to (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES). */
  maxXlsxUncompressedBytes: number;
  /** Slot budget of the worker's table of seen EANs (see SeenEans); tests lower it. */
  seenEanSlots?: number;
  /** Size of a first load's EAN filter (see EanFilter), instead of one from the file's size; tests shrink it. */
  eanFilterBytes?: number;
  /** Brings the account's product search up to date once an import has written its products. */
  searchCatchUp?: { request(accountId: string): void };
  /** Where `uploads` keeps its files (STORAGE_URL, or DATA_DIR), named when an upload is not there. */
  storeLocation?: string;
}

/**
 * Runs one attempt of import job `jobId`: read and merge the file in one transaction, then commit
 * or roll back with the outcome. Returns the outcome, or null when the job had already ended (a
 * duplicate delivery). Throws on I/O failures; the transaction is then rolled back by PostgreSQL,
 * the job stays `processing`, and the next attempt starts again from the stored upload. An upload
 * missing from storage is retried the same way (see MissingUploadError), logged at error. `claim` is
 * the run's claim on the job (see withRunClaim): the attempt records its outcome only while its
 * run holds it.
 */
export async function runImport(deps: ImportDeps, jobId: string, signal?: AbortSignal, claim?: HeldRunClaim): Promise<JobOutcome | null> {
  const job = await startJobAttempt(deps.db, jobId);
  if (!job) return null;
  const log = deps.logger.child({ jobId, accountId: job.account_id, attempt: job.attempts });
  const options = importOptionsSchema.parse(job.options);
  const reportTable = reportTableFor(jobId);
  const startedAt = Date.now();
  await createReportTable(deps.db, reportTable);
  let ended = false;
  try {
    const writer = await ImportWriter.begin({
      db: deps.db,
      jobId,
      accountId: job.account_id,
      options,
      reportTable,
      fileBytes: job.input_bytes ?? 0,
      seenEanSlots: deps.seenEanSlots,
      eanFilterBytes: deps.eanFilterBytes,
      run: { claim, log },
    });
    if (!writer) return null;
    log.info({ options }, 'import started');
    try {
      const read = await readFile({
        db: deps.db,
        uploads: deps.uploads,
        jobId,
        inputPath: job.input_path!,
        options,
        maxRecordBytes: deps.maxRecordBytes,
        maxXlsxUncompressedBytes: deps.maxXlsxUncompressedBytes,
        writer,
        signal,
      });
      await writer.drain();
      const outcome = await finalizeImport({ db: deps.db, jobId, options, reportTable, writer, read, claimToken: claim?.token });
      ended = true;
      writer.release();
      log.info({ outcome, ms: Date.now() - startedAt }, outcome ? 'import finished' : 'import already ended elsewhere');
      // After the job has ended: the catch-up is no part of the import's time.
      if (outcome?.status === 'completed' && !options.dry_run) deps.searchCatchUp?.request(job.account_id);
      return outcome;
    } catch (error) {
      writer.release(error);
      if (!isMissingFile(error)) throw error;
      // Lost data, or a worker whose DATA_DIR or bucket is not the API's: an operator must hear of
      // it on every attempt. Retried all the same, since another attempt (or worker) may find it.
      const store = { kind: deps.uploads.kind, location: deps.storeLocation };
      log.error({ path: job.input_path, store }, 'import upload missing from storage');
      throw new MissingUploadError(job.input_path!, { cause: error });
    }
  } finally {
    // Once the job has ended, this attempt's table and those of earlier attempts that crashed
    // are all garbage; otherwise only this attempt's own.
    if (ended) await dropLeftoverReportTables(deps.db, jobId);
    else await dropReportTable(deps.db, reportTable);
  }
}
