import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import { finishJob, lockProcessingJob, saveProgress, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { FileProblem } from './file-problem.js';
import { jobLockSql, type ImportWriter } from './import-writer.js';
import type { ReadResult } from './read-file.js';
import { addFileProblem, publishReport } from './report-table.js';

/** "1 row", "2 rows". */
const rows = (count: number) => `${count} row${count === 1 ? '' : 's'}`;

export interface FinalizeInput {
  db: Db;
  jobId: string;
  options: ImportOptions;
  reportTable: string;
  writer: ImportWriter;
  read: ReadResult;
}

/**
 * Decides the import's outcome once every row was read and every chunk merged. A success is
 * committed in the import's own transaction (catalog, report and status together); a failure rolls
 * that transaction back, so nothing was written, and records the report and status on their own.
 * Returns null when another attempt (or a cancel) had already ended the job.
 */
export async function finalizeImport(input: FinalizeInput): Promise<JobOutcome | null> {
  const { db, jobId, options, writer, read } = input;
  const total = read.rowsProcessed;
  await saveProgress(db, jobId, { phase: 'finalizing', rowsTotal: total, rowsProcessed: total, rowsFailed: writer.rowsFailed });
  if (read.problem) return fail(input, fileProblemOutcome(input, read.problem), read.problem);

  const failed = writer.rowsFailed;
  const valid = total - failed;
  const dryRun = options.dry_run ? 'Dry run: ' : '';
  const see = `See /v1/jobs/${jobId}/errors.`;
  const base = { rowsTotal: total, rowsProcessed: total, rowsFailed: failed };
  if (failed > 0 && (options.on_error === 'abort' || valid === 0)) {
    const which = valid === 0 ? (total === 1 ? 'The only row' : `All ${total} rows`) : `${failed} of ${rows(total)}`;
    return fail(input, {
      status: 'failed',
      errorCode: 'IMPORT_FAILED',
      detail: `${dryRun}${which} failed validation; no rows were imported. ${see}`,
      counts: { ...base, rowsSucceeded: 0, rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 0 },
    });
  }
  const imported = options.dry_run ? `${rows(valid)} would be imported; nothing was written.` : `${rows(valid)} imported.`;
  const skipped = failed > 0 ? ` ${failed} of ${rows(total)} failed validation and were skipped. ${see}` : '';
  const outcome: JobOutcome = {
    status: 'completed',
    detail: `${dryRun}${imported}${skipped}`,
    counts: {
      ...base,
      rowsSucceeded: valid,
      rowsCreated: writer.counts.created,
      rowsUpdated: writer.counts.updated,
      rowsUnchanged: writer.counts.unchanged,
    },
  };
  return (await writer.commit(outcome)) ? outcome : null;
}

function fileProblemOutcome(input: FinalizeInput, problem: FileProblem): JobOutcome {
  const total = input.read.rowsProcessed;
  return {
    status: 'failed',
    errorCode: 'IMPORT_FAILED',
    detail: `${problem.message} No rows were imported. See /v1/jobs/${input.jobId}/errors.`,
    counts: {
      rowsTotal: total,
      rowsProcessed: total,
      rowsFailed: Math.max(input.writer.rowsFailed, 1),
      rowsSucceeded: 0,
      rowsCreated: 0,
      rowsUpdated: 0,
      rowsUnchanged: 0,
    },
  };
}

async function fail(input: FinalizeInput, outcome: JobOutcome, problem?: FileProblem): Promise<JobOutcome | null> {
  await input.writer.rollback();
  const ended = await failImport(input.db, {
    jobId: input.jobId,
    reportTable: input.reportTable,
    outcome,
    addToReport: problem && ((client) => addFileProblem(client, input.reportTable, problem)),
  });
  return ended ? outcome : null;
}

/**
 * Ends a job as failed in a transaction of its own (after the import's transaction was rolled
 * back): publishes the report, with the file-level problem if there is one.
 */
async function failImport(
  db: Db,
  input: { jobId: string; reportTable: string; outcome: JobOutcome; addToReport?: (client: DbClient) => Promise<void> },
): Promise<boolean> {
  return withTransaction(db, async (client) => {
    await client.query(jobLockSql, [input.jobId]);
    if (!(await lockProcessingJob(client, input.jobId))) return false;
    await input.addToReport?.(client);
    await publishReport(client, input.reportTable, input.jobId);
    await finishJob(client, input.jobId, input.outcome);
    return true;
  });
}
