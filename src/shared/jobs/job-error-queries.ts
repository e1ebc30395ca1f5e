import type { Db } from '../db/pool.js';
import type { RowErrorCode } from './row-error-codes.js';

/** Columns that errors.csv appends to the uploaded ones. */
export const ERRORS_CSV_COLUMNS = ['error_row', 'error_field', 'error_code', 'error_message'] as const;

/** One entry of a job's per-row report. */
export interface JobRowError {
  row: number;
  ordinal: number;
  ean: string | null;
  field: string | null;
  /** Only the workers write the report, each entry with one of these. */
  code: RowErrorCode;
  message: string;
}

/** Before every entry of a report: rows start at 0 (the header). */
const REPORT_START: [number, number] = [-1, 0];

/**
 * A page of a job's report in row order, one entry more than `limit` to tell whether there is more.
 *
 * Each entry is found on its own, the first after the one before (a recursive walk of the
 * (job_id, row, ordinal) key, one short index descent per entry), so a page costs its size
 * whatever the planner believes. A plain `ORDER BY … LIMIT` leaves the plan to statistics: on a
 * report table never analyzed yet (a fresh database's first big import) the planner expects a
 * few hundred entries and sorts every entry after the cursor for each page, which makes a long
 * report take time quadratic in its length to read.
 */
export async function listJobErrors(
  db: Db,
  jobId: string,
  page: { limit: number; after?: [number, number] },
): Promise<JobRowError[]> {
  const [afterRow, afterOrdinal] = page.after ?? REPORT_START;
  const { rows } = await db.query<JobRowError>(
    `WITH RECURSIVE entries AS (
       (SELECT row, ordinal, ean, field, code, message, 1 AS taken FROM job_row_errors
        WHERE job_id = $1 AND (row, ordinal) > ($2, $3) ORDER BY row, ordinal LIMIT 1)
       UNION ALL
       SELECT next.*, entries.taken + 1 FROM entries CROSS JOIN LATERAL (
         SELECT row, ordinal, ean, field, code, message FROM job_row_errors
         WHERE job_id = $1 AND (row, ordinal) > (entries.row, entries.ordinal) ORDER BY row, ordinal LIMIT 1
       ) next
       WHERE entries.taken < $4
     )
     SELECT row, ordinal, ean, field, code, message FROM entries ORDER BY row, ordinal`,
    [jobId, afterRow, afterOrdinal, page.limit + 1],
  );
  return rows;
}

/** A failed row with all its problems, for errors.csv. */
export interface FailedRow {
  row: number;
  raw: string | null;
  fields: string;
  codes: string;
  messages: string;
}

/**
 * Failed rows after `afterRow`, each once with its problems joined by "; ": at most `limit` rows,
 * and only as many as fit in `maxRawBytes` of raw records (always at least one), so that a page
 * of very wide rows is as small as a page of narrow ones. An empty page means the end.
 *
 * The page's row numbers are found one by one, each the first after the one before (a recursive
 * walk of the (job_id, row, …) key), and each row's problems by its key: a page costs its size
 * whatever the statistics say (see {@link listJobErrors}; a `GROUP BY row ORDER BY row LIMIT`
 * over the rows after the cursor had an un-analyzed table's page sort all of them).
 */
export async function listFailedRows(
  db: Db,
  jobId: string,
  page: { afterRow: number; limit: number; maxRawBytes: number },
): Promise<FailedRow[]> {
  const { rows } = await db.query<FailedRow>(
    `WITH RECURSIVE failed_rows (row, taken) AS (
       SELECT min(row), 1 FROM job_row_errors WHERE job_id = $1 AND row > $2
       UNION ALL
       SELECT (SELECT min(row) FROM job_row_errors WHERE job_id = $1 AND row > failed_rows.row), taken + 1
       FROM failed_rows WHERE failed_rows.row IS NOT NULL AND taken < $3
     ), failed AS (
       SELECT failed_rows.row, problems.* FROM failed_rows CROSS JOIN LATERAL (
         SELECT max(raw) AS raw,
                string_agg(coalesce(field, ''), '; ' ORDER BY ordinal) AS fields,
                string_agg(code, '; ' ORDER BY ordinal) AS codes,
                string_agg(message, ' ' ORDER BY ordinal) AS messages
         FROM job_row_errors WHERE job_id = $1 AND row = failed_rows.row
       ) problems
       WHERE failed_rows.row IS NOT NULL
     ), sized AS (
       SELECT failed.*, sum(coalesce(octet_length(raw), 0)) OVER (ORDER BY row) AS bytes_through FROM failed
     )
     SELECT row, raw, fields, codes, messages FROM sized
     WHERE bytes_through - coalesce(octet_length(raw), 0) < $4
     ORDER BY row`,
    [jobId, page.afterRow, page.limit, page.maxRawBytes],
  );
  return rows;
}

/** Failed rows read per page, and most bytes of their raw records per page. */
const FAILED_ROWS_PAGE = 500;
const FAILED_ROWS_PAGE_BYTES = 256 * 1024;

/**
 * Every failed row of the job's report in row order ({@link listFailedRows}), read a page at a
 * time: a download whose client stops reading holds one small page, however wide the rows.
 */
export async function* allFailedRows(db: Db, jobId: string): AsyncGenerator<FailedRow> {
  let afterRow = -1;
  for (;;) {
    const page = await listFailedRows(db, jobId, { afterRow, limit: FAILED_ROWS_PAGE, maxRawBytes: FAILED_ROWS_PAGE_BYTES });
    if (page.length === 0) return;
    yield* page;
    afterRow = page.at(-1)!.row;
  }
}
