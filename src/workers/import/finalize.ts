import type { Db } from '../../shared/db/pool.js';
import { saveProgress, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { decideImportOutcome } from './import-outcome.js';
import { failImport } from './import-transaction.js';
import type { ImportWriter } from './import-writer.js';
import type { ReadResult } from './read-file.js';
import { addFileProblem } from './report-table.js';

export interface FinalizeInput {
  db: Db;
  jobId: string;
  options: ImportOptions;
  reportTable: string;
  writer: ImportWriter;
  read: ReadResult;
  /** The run's claim token: a run whose claim was taken over records nothing (see lockClaimedJob). */
  claimToken?: string;
}

/**
 * Ends the import once every row was read and every chunk merged, with the outcome that
 * decideImportOutcome gives. A success is committed in the import's own transaction (catalog,
 * report and status together); a failure rolls that transaction back, so nothing was written, and
 * records the report and status on their own. Returns null when another attempt (or a cancel) had
 * already ended the job.
 */
export async function finalizeImport(input: FinalizeInput): Promise<JobOutcome | null> {
  const { db, jobId, options, reportTable, writer, read } = input;
  const total = read.rowsProcessed;
  await saveProgress(db, jobId, { phase: 'finalizing', rowsTotal: total, rowsProcessed: total, rowsFailed: writer.rowsFailed });
  const { transaction, outcome } = decideImportOutcome({
    jobId,
    options,
    rowsProcessed: total,
    rowsFailed: writer.rowsFailed,
    counts: writer.counts,
    fileProblem: read.problem?.message,
  });
  if (transaction === 'commit') return (await writer.commit(outcome)) ? outcome : null;
  await writer.rollback();
  const problem = read.problem;
  const ended = await failImport(db, {
    jobId,
    reportTable,
    outcome,
    claimToken: input.claimToken,
    addToReport: problem ? (client) => addFileProblem(client, reportTable, problem) : undefined,
  });
  return ended ? outcome : null;
}
