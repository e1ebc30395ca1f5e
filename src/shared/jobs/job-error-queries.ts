import type { Db } from '../db/pool.js';

/** Columns that errors.csv appends to the uploaded ones. */
export const ERRORS_CSV_COLUMNS = ['error_row', 'error_field', 'error_code', 'error_message'] as const;

/** One entry of a job's per-row report. */
export interface JobRowError {
  row: number;
  ordinal: number;
  ean: string | null;
  field: string | null;
  code: string;
  message: string;
}

/** A page of a job's report in row order, one entry more than `limit` to tell whether there is more. */
export async function listJobErrors(
  db: Db,
  jobId: string,
  page: { limit: number; after?: [number, number] },
): Promise<JobRowError[]> {
  const { rows } = await db.query<JobRowError>(
    `SELECT row, ordinal, ean, field, code, message FROM job_row_errors
     WHERE job_id = $1 AND ($2::bigint IS NULL OR (row, ordinal) > ($2, $3))
     ORDER BY row, ordinal LIMIT $4`,
    [jobId, page.after?.[0] ?? null, page.after?.[1] ?? null, page.limit + 1],
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
 */
export async function listFailedRows(
  db: Db,
  jobId: string,
  page: { afterRow: number; limit: number; maxRawBytes: number },
): Promise<FailedRow[]> {
  const { rows } = await db.query<FailedRow>(
    `WITH failed AS (
       SELECT row, max(raw) AS raw,
              string_agg(coalesce(field, ''), '; ' ORDER BY ordinal) AS fields,
              string_agg(code, '; ' ORDER BY ordinal) AS codes,
              string_agg(message, ' ' ORDER BY ordinal) AS messages
       FROM job_row_errors WHERE job_id = $1 AND row > $2
       GROUP BY row ORDER BY row LIMIT $3
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
