import type { Logger } from 'pino';
import type { Db } from '../../shared/db/pool.js';
import { startJobAttempt, type JobOutcome } from '../../shared/jobs/job-queries.js';
import { importOptionsSchema } from '../../shared/jobs/import-options.js';
import type { UploadStore } from '../../shared/upload-store.js';
import { finalizeImport } from './finalize.js';
import { stageFile } from './stage-file.js';
import { createStaging, dropStaging, stagingTablesFor } from './staging.js';

/** What an import attempt needs from the process. */
export interface ImportDeps {
  db: Db;
  uploads: UploadStore;
  logger: Logger;
  maxRecordBytes: number;
}

/**
 * Runs one attempt of import job `jobId`: stage the file, then finalize in one transaction.
 * Returns the outcome, or null when the job had already ended (a duplicate delivery).
 * Throws on I/O failures, leaving the job `processing` for the next attempt, which starts again
 * from the stored upload with fresh staging tables.
 */
export async function runImport(deps: ImportDeps, jobId: string, signal?: AbortSignal): Promise<JobOutcome | null> {
  const job = await startJobAttempt(deps.db, jobId);
  if (!job) return null;
  const log = deps.logger.child({ jobId, accountId: job.account_id, attempt: job.attempts });
  const options = importOptionsSchema.parse(job.options);
  const tables = stagingTablesFor(jobId);
  const startedAt = Date.now();
  log.info({ options }, 'import started');
  await createStaging(deps.db, tables);
  try {
    const staged = await stageFile({
      db: deps.db,
      uploads: deps.uploads,
      jobId,
      inputPath: job.input_path!,
      options,
      tables,
      maxRecordBytes: deps.maxRecordBytes,
      signal,
    });
    const outcome = await finalizeImport({ db: deps.db, jobId, accountId: job.account_id, options, tables, staged });
    log.info({ outcome, ms: Date.now() - startedAt }, outcome ? 'import finished' : 'import already finished elsewhere');
    return outcome;
  } finally {
    await dropStaging(deps.db, tables);
  }
}
