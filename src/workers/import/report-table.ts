import { randomBytes } from 'node:crypto';
import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import type { RowErrorCode } from '../../shared/jobs/row-error-codes.js';

/** Columns of an attempt's report table, in COPY order. */
export const REPORT_TABLE_COLUMNS = ['row', 'ordinal', 'ean', 'field', 'code', 'message', 'raw'] as const;

/**
 * Names the report table of one attempt: `import_staging.j<job id hex>_<token>_errors`. Row
 * problems are COPYed there on their own connection as they are found, outside the import's
 * transaction, so that an aborted merge still leaves the full report; the final transaction
 * publishes it into job_row_errors. A fresh token per attempt keeps attempts apart.
 */
export function reportTableFor(jobId: string): string {
  return `import_staging.j${jobId.replaceAll('-', '')}_${randomBytes(4).toString('hex')}_errors`;
}

const REPORT_TABLE_NAME = /^j([0-9a-f]{32})_[0-9a-f]{8}_errors$/;

/** The job id (with dashes) of a report table name (without schema), or null for another table. */
export function jobIdOfReportTable(table: string): string | null {
  const hex = REPORT_TABLE_NAME.exec(table)?.[1];
  return hex ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : null;
}

/** Creates the attempt's UNLOGGED report table (no WAL: it is rebuilt from the upload on retry). */
export async function createReportTable(db: Db, table: string): Promise<void> {
  await db.query(`
    CREATE UNLOGGED TABLE ${table} (
      row bigint NOT NULL, ordinal integer NOT NULL, ean text, field text, code text NOT NULL,
      message text NOT NULL, raw text
    )`);
}

/**
 * Drops tables of the `import_staging` schema, waiting at most a second for a lock: a table still
 * held by a dying attempt is left for the periodic cleanup. Returns whether they were dropped.
 */
export async function dropStagingTables(db: Db, tables: string[]): Promise<boolean> {
  if (tables.length === 0) return true;
  const names = tables.map((table) => (table.includes('.') ? table : `import_staging.${table}`));
  return withTransaction(db, async (client) => {
    await client.query(`SET LOCAL lock_timeout = '1s'`);
    await client.query(`DROP TABLE IF EXISTS ${names.join(', ')}`);
  }).then(
    () => true,
    () => false,
  );
}

/** Drops the attempt's report table; what fails is left to the periodic cleanup. */
export async function dropReportTable(db: Db, table: string): Promise<void> {
  await dropStagingTables(db, [table]);
}

/**
 * Drops the report tables that earlier attempts of job `jobId` left behind (a killed worker never
 * reaches its own dropReportTable). Only for a job that has ended: no attempt needs them then.
 */
export async function dropLeftoverReportTables(db: Db, jobId: string): Promise<void> {
  const { rows } = await db
    .query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'import_staging' AND starts_with(tablename, $1)`,
      [`j${jobId.replaceAll('-', '')}_`],
    )
    .catch(() => ({ rows: [] }));
  await dropStagingTables(db, rows.map((row) => row.tablename));
}

/** Adds a file-level problem (no field, no cells) to the report at `row`. */
export async function addFileProblem(
  client: DbClient,
  table: string,
  problem: { row: number; code: RowErrorCode; message: string },
): Promise<void> {
  await client.query(
    `INSERT INTO ${table} (row, ordinal, code, message)
     VALUES ($1, (SELECT count(*) FROM ${table} WHERE row = $1), $2, $3)`,
    [problem.row, problem.code, problem.message],
  );
}

/** Replaces the job's published report with the attempt's, in the caller's transaction. */
export async function publishReport(client: DbClient, table: string, jobId: string): Promise<void> {
  await client.query('DELETE FROM job_row_errors WHERE job_id = $1', [jobId]);
  await client.query(
    `INSERT INTO job_row_errors (job_id, row, ordinal, ean, field, code, message, raw)
     SELECT $1, row, ordinal, ean, field, code, message, raw FROM ${table}`,
    [jobId],
  );
}
