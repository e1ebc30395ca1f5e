import { describe, expect, it } from 'vitest';
import { decideImportOutcome, type FinishedAttempt } from '../../src/workers/import/import-outcome.js';

const JOB = '00000000-0000-4000-8000-000000000001';
const SEE = `See /v1/jobs/${JOB}/errors.`;

const attempt = (overrides: Partial<FinishedAttempt>): FinishedAttempt => ({
  jobId: JOB,
  options: { dry_run: false, on_error: 'abort' },
  rowsProcessed: 3,
  rowsFailed: 0,
  counts: { created: 2, updated: 1, unchanged: 0 },
  ...overrides,
});

describe('the outcome of a finished import attempt', () => {
  it('completes and commits when every row is valid', () => {
    expect(decideImportOutcome(attempt({}))).toEqual({
      transaction: 'commit',
      outcome: {
        status: 'completed',
        detail: '3 rows imported.',
        counts: { rowsTotal: 3, rowsProcessed: 3, rowsFailed: 0, rowsSucceeded: 3, rowsCreated: 2, rowsUpdated: 1, rowsUnchanged: 0 },
      },
    });
  });

  it('says "1 row" for a single row', () => {
    const decision = decideImportOutcome(attempt({ rowsProcessed: 1, counts: { created: 1, updated: 0, unchanged: 0 } }));
    expect(decision.outcome.detail).toBe('1 row imported.');
  });

  it('fails with IMPORT_FAILED and rolls back on a row problem with on_error=abort', () => {
    expect(decideImportOutcome(attempt({ rowsFailed: 1 }))).toEqual({
      transaction: 'roll back',
      outcome: {
        status: 'failed',
        errorCode: 'IMPORT_FAILED',
        detail: `1 of 3 rows failed validation; no rows were imported. ${SEE}`,
        counts: { rowsTotal: 3, rowsProcessed: 3, rowsFailed: 1, rowsSucceeded: 0, rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 0 },
      },
    });
  });

  it('completes with on_error=skip, naming the rows skipped', () => {
    const decision = decideImportOutcome(attempt({ options: { dry_run: false, on_error: 'skip' }, rowsFailed: 1 }));
    expect(decision.transaction).toBe('commit');
    expect(decision.outcome).toMatchObject({
      status: 'completed',
      detail: `2 rows imported. 1 of 3 rows failed validation and were skipped. ${SEE}`,
      counts: { rowsSucceeded: 2, rowsFailed: 1 },
    });
  });

  it('fails even with on_error=skip when no row is valid', () => {
    const skip = { dry_run: false, on_error: 'skip' } as const;
    expect(decideImportOutcome(attempt({ options: skip, rowsFailed: 3 })).outcome).toMatchObject({
      status: 'failed',
      errorCode: 'IMPORT_FAILED',
      detail: `3 of 3 rows failed validation; no rows were imported. ${SEE}`,
    });
    expect(decideImportOutcome(attempt({ options: skip, rowsProcessed: 1, rowsFailed: 1 })).outcome.detail).toBe(
      `1 of 1 row failed validation; no rows were imported. ${SEE}`,
    );
  });

  it('fails on a file problem, counting at least one failed row', () => {
    expect(decideImportOutcome(attempt({ rowsProcessed: 0, fileProblem: 'The file has no header.' }))).toEqual({
      transaction: 'roll back',
      outcome: {
        status: 'failed',
        errorCode: 'IMPORT_FAILED',
        detail: `The file has no header. No rows were imported. ${SEE}`,
        counts: { rowsTotal: 0, rowsProcessed: 0, rowsFailed: 1, rowsSucceeded: 0, rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 0 },
      },
    });
  });

  it('says a dry run wrote nothing, whether it would complete or fail', () => {
    const dryRun = { dry_run: true, on_error: 'abort' } as const;
    expect(decideImportOutcome(attempt({ options: dryRun })).outcome.detail).toBe('Dry run: 3 rows would be imported; nothing was written.');
    expect(decideImportOutcome(attempt({ options: dryRun, rowsFailed: 2 })).outcome.detail).toBe(
      `Dry run: 2 of 3 rows failed validation; no rows were imported. ${SEE}`,
    );
  });
});
