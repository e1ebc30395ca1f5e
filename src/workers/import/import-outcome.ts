import type { JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { MergeCounts } from './chunk-sql.js';

/** What an attempt that read its whole file knows when it decides the job's outcome. */
export interface FinishedAttempt {
  jobId: string;
  options: Pick<ImportOptions, 'dry_run' | 'on_error'>;
  /** Data rows read (the header aside). */
  rowsProcessed: number;
  /** Invalid rows plus rows a set-based rule rejected. */
  rowsFailed: number;
  /** What the merges did (or, for a dry run, would do). */
  counts: MergeCounts;
  /** The message of a problem with the file as a whole, if reading stopped on one. */
  fileProblem?: string;
}

/**
 * The job's outcome and what becomes of the import's transaction: `commit` writes the catalog
 * changes with the outcome; `roll back` discards them and the job fails with IMPORT_FAILED
 * (nothing was imported).
 */
export interface ImportDecision {
  transaction: 'commit' | 'roll back';
  outcome: JobOutcome;
}

/** "1 row", "2 rows". */
const rows = (count: number) => `${count} row${count === 1 ? '' : 's'}`;

/**
 * Decides a finished attempt's outcome (API.md §4): a file-level problem fails the import; so do
 * row problems with on_error=abort, or when no row is valid; otherwise the import completes, the
 * failed rows skipped. A dry run says so in the detail and writes nothing either way.
 */
export function decideImportOutcome(attempt: FinishedAttempt): ImportDecision {
  const { jobId, options, rowsProcessed: total, rowsFailed: failed, counts } = attempt;
  const see = `See /v1/jobs/${jobId}/errors.`;
  const base = { rowsTotal: total, rowsProcessed: total };
  const nothing = { rowsSucceeded: 0, rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 0 };
  if (attempt.fileProblem !== undefined) {
    return {
      transaction: 'roll back',
      outcome: {
        status: 'failed',
        errorCode: 'IMPORT_FAILED',
        detail: `${attempt.fileProblem} No rows were imported. ${see}`,
        counts: { ...base, rowsFailed: Math.max(failed, 1), ...nothing },
      },
    };
  }
  const valid = total - failed;
  const dryRun = options.dry_run ? 'Dry run: ' : '';
  if (failed > 0 && (options.on_error === 'abort' || valid === 0)) {
    // Always "N of M", the contract's form, even when every row failed: clients read the counts from it.
    const which = `${failed} of ${rows(total)}`;
    return {
      transaction: 'roll back',
      outcome: {
        status: 'failed',
        errorCode: 'IMPORT_FAILED',
        detail: `${dryRun}${which} failed validation; no rows were imported. ${see}`,
        counts: { ...base, rowsFailed: failed, ...nothing },
      },
    };
  }
  const imported = options.dry_run ? `${rows(valid)} would be imported; nothing was written.` : `${rows(valid)} imported.`;
  const skipped = failed > 0 ? ` ${failed} of ${rows(total)} failed validation and were skipped. ${see}` : '';
  return {
    transaction: 'commit',
    outcome: {
      status: 'completed',
      detail: `${dryRun}${imported}${skipped}`,
      counts: {
        ...base,
        rowsFailed: failed,
        rowsSucceeded: valid,
        rowsCreated: counts.created,
        rowsUpdated: counts.updated,
        rowsUnchanged: counts.unchanged,
      },
      ...(options.dry_run ? { dryRun: true } : {}),
    },
  };
}
