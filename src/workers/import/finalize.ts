import type { Db, DbClient } from '../../shared/db/pool.js';
import { finishJob, lockProcessingJob, saveProgress, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { withTransaction } from '../../shared/db/pool.js';
import type { FileProblem } from './file-problem.js';
import {
  countFailedRows,
  mergeIntoProducts,
  previewMerge,
  publishReport,
  rejectByMode,
  rejectRepeatedEans,
  type StagingTables,
} from './staging.js';
import { presentColumns, type StagedFile } from './stage-file.js';

export interface FinalizeInput {
  db: Db;
  jobId: string;
  accountId: string;
  options: ImportOptions;
  tables: StagingTables;
  staged: StagedFile;
}

/**
 * Decides and records the import's outcome in ONE transaction: the set-based checks (repeated
 * EANs, the mode's rule), the merge into products (unless aborted or a dry run), the report and
 * the job's final status and counts. Readers see all of it or none of it, and a concurrent or
 * repeated attempt that finds the job already ended writes nothing. Returns the outcome, or null
 * when another attempt had already ended the job.
 */
export async function finalizeImport(input: FinalizeInput): Promise<JobOutcome | null> {
  const { db, jobId, staged } = input;
  await saveProgress(db, jobId, {
    phase: 'finalizing',
    rowsTotal: staged.rowsProcessed,
    rowsProcessed: staged.rowsProcessed,
    rowsFailed: staged.rowsInvalid,
  });
  return withTransaction(db, async (client) => {
    if (!(await lockProcessingJob(client, jobId))) return null;
    await client.query(`SET LOCAL work_mem = '256MB'`);
    const outcome = staged.problem
      ? await recordFileProblem(client, input, staged.problem)
      : await decide(client, input);
    await publishReport(client, input.tables, jobId);
    await finishJob(client, jobId, outcome);
    return outcome;
  });
}

async function recordFileProblem(client: DbClient, input: FinalizeInput, problem: FileProblem): Promise<JobOutcome> {
  await client.query(
    `INSERT INTO ${input.tables.errors} (row, ordinal, ean, field, code, message, raw)
     VALUES ($1, (SELECT count(*) FROM ${input.tables.errors} WHERE row = $1), NULL, NULL, $2, $3, NULL)`,
    [problem.row, problem.code, problem.message],
  );
  const total = input.staged.rowsProcessed;
  return {
    status: 'failed',
    errorCode: 'IMPORT_FAILED',
    detail: `${problem.message} No rows were imported. See /v1/jobs/${input.jobId}/errors.`,
    counts: { rowsTotal: total, rowsProcessed: total, rowsFailed: Math.max(input.staged.rowsInvalid, 1) },
  };
}

async function decide(client: DbClient, input: FinalizeInput): Promise<JobOutcome> {
  const { jobId, accountId, options, tables, staged } = input;
  await rejectRepeatedEans(client, tables);
  await rejectByMode(client, tables, accountId, options.mode);
  const total = staged.rowsProcessed;
  const failed = await countFailedRows(client, tables);
  const valid = total - failed;
  const dryRun = options.dry_run ? 'Dry run: ' : '';
  const see = `See /v1/jobs/${jobId}/errors.`;
  const base = { rowsTotal: total, rowsProcessed: total, rowsFailed: failed };

  if (failed > 0 && (options.on_error === 'abort' || valid === 0)) {
    const which = valid === 0 ? `All ${total} rows` : `${failed} of ${total} rows`;
    return {
      status: 'failed',
      errorCode: 'IMPORT_FAILED',
      detail: `${dryRun}${which} failed validation; no rows were imported. ${see}`,
      counts: { ...base, rowsSucceeded: 0, rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 0 },
    };
  }
  const shape = { columns: presentColumns(staged.layout!), attributeNames: staged.layout!.attributes.map((a) => a.name) };
  const counts = options.dry_run
    ? await previewMerge(client, tables, accountId, shape)
    : await mergeIntoProducts(client, tables, accountId, options.mode, shape);
  const imported = options.dry_run ? `${valid} rows would be imported; nothing was written.` : `${valid} rows imported.`;
  const skipped = failed > 0 ? ` ${failed} of ${total} rows failed validation and were skipped. ${see}` : '';
  return {
    status: 'completed',
    detail: `${dryRun}${imported}${skipped}`,
    counts: {
      ...base,
      rowsSucceeded: valid,
      rowsCreated: counts.created,
      rowsUpdated: counts.updated,
      rowsUnchanged: counts.unchanged,
    },
  };
}
