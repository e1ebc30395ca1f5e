import { randomBytes } from 'node:crypto';
import type { Db, DbClient } from '../../shared/db/pool.js';

/** Columns of an attempt's report table, in COPY order. */
export const REPORT_COLUMNS = ['row', 'ordinal', 'ean', 'field', 'code', 'message', 'raw'] as const;

/**
 * Names the report table of one attempt: `import_staging.j<job id hex>_<token>_errors`. Row
 * problems are COPYed there on their own connection as they are found, outside the import's
 * transaction, so that an aborted merge still leaves the full report; the final transaction
 * publishes it into job_row_errors. A fresh token per attempt keeps attempts apart.
 */
export function reportTableFor(jobId: string): string {
  return `import_staging.j${jobId.replaceAll('-', '')}_${randomBytes(4).toString('hex')}_errors`;
}

/** Creates the attempt's UNLOGGED report table (no WAL: it is rebuilt from the upload on retry). */
export async function createReportTable(db: Db, table: string): Promise<void> {
  await db.query(`
    CREATE UNLOGGED TABLE ${table} (
      row bigint NOT NULL, ordinal integer NOT NULL, ean text, field text, code text NOT NULL,
      message text NOT NULL, raw text
    )`);
}

/** Drops the attempt's report table; failures are ignored (the periodic cleanup retries). */
export async function dropReportTable(db: Db, table: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
}

/** Adds a file-level problem (no field, no cells) to the report at `row`. */
export async function addFileProblem(
  client: DbClient,
  table: string,
  problem: { row: number; code: string; message: string },
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
