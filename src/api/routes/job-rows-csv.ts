import type { FastifyInstance } from 'fastify';
import type { Db } from '../../shared/db/pool.js';
import { importNotEnded, jobNotFound, notFound } from '../errors.js';
import { importOptionsSchema } from '../../shared/jobs/import-options.js';
import { allFailedRows, ERRORS_CSV_COLUMNS, type FailedRow } from '../../shared/jobs/job-error-queries.js';
import { findJob } from '../../shared/jobs/job-queries.js';
import { endedUnread, LOST_UPLOAD_DETAIL } from '../../shared/jobs/job-row.js';
import { reportFormat } from '../../shared/jobs/upload-reading.js';
import { blankRecordTest, isBlankRecord } from '../../workers/import/blank-record.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { isMissingFile, storageUnavailable } from '../../shared/storage/storage-errors.js';
import { storedUploadRecords, type RecordLimits } from '../../workers/import/stored-records.js';
import { uploadExpired, type UploadRetention } from '../lost-upload.js';
import { csvReportStream, errorCellsOf, failedRowCells, reportRowCells } from '../csv-report.js';
import { workbookPriceCells, type ReportCells } from '../workbook-report-prices.js';
import type { OpenStreams } from '../open-streams.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, csvDownloadResponse, errorResponses, errorSentences } from '../schemas.js';
import { streamedRoute } from '../streamed-route.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';

const rowsCsvSchema = {
  operationId: 'downloadJobRowsCsv',
  summary: "Every row of an ended import as CSV, with each row's errors",
  description:
    'The file to fix and upload again after an all-or-nothing import failed. 409 JOB_NOT_FINISHED while the import runs; ' +
    '404 for a job that is not an import, a cancelled import or one that failed before its rows were all checked (its upload was ' +
    'missing from storage, or its attempts ran out on an internal error), once its upload is no longer stored (UPLOAD_RETENTION_DAYS), and when it is missing from ' +
    'storage before then; 503 SERVICE_UNAVAILABLE while the storage cannot be read.',
  response: {
    200: csvDownloadResponse(
      'Every uploaded row as uploaded, then error_row, error_field, error_code, error_message (empty for good rows; ' +
        "error_code: the row's RowErrorCode values, joined with `; `); in the upload's delimiter, UTF-8 after a " +
        'byte-order mark when the upload was not read as UTF-8',
    ),
    ...errorResponses(404, ...AUTH_ERRORS),
    ...errorSentences(409, 'JOB_NOT_FINISHED', importNotEnded().message),
  },
};

const uploadGone = () =>
  notFound('The upload of this import is no longer stored (uploads are kept UPLOAD_RETENTION_DAYS days); errors.csv still has the failed rows.');
const UNREAD_UPLOAD = 'This import failed before reading its rows: its upload was missing from storage. Upload the file again.';
const UNCHECKED_ROWS = 'This import failed on an internal error before its rows were all checked: it has no rows.csv. Retry it.';
const uploadMissing = () => notFound('The upload of this import is missing from storage; errors.csv still has the failed rows.');

export interface RowsCsvDeps extends RecordLimits {
  db: Db;
  uploads: FileStore;
  /** Tells an upload the retention removed from one lost before it. */
  uploadRetention: UploadRetention;
  /** The downloads open on this process, bounded per account and in all. */
  downloads: OpenStreams;
}

/**
 * GET /v1/jobs/{id}/rows.csv (API.md §7; HEAD: its headers alone): the whole upload of an ended
 * import with each row's problems beside it, the file to fix and upload again after an
 * all-or-nothing import failed. Good rows are not stored anywhere: the stored upload is read again
 * and the report merged in by row number, both as streams, so the import itself pays nothing for
 * this.
 */
export function jobRowsCsvRoutes(app: FastifyInstance, deps: RowsCsvDeps): void {
  streamedRoute(app, {
    url: '/v1/jobs/:id/rows.csv',
    config: { scope: 'jobs:read' },
    schema: rowsCsvSchema,
    streams: deps.downloads,
    resolve: async (request) => {
      const id = request.params.id;
      const job = UUID.test(id) ? await findJob(deps.db, accountIdOf(request), id) : null;
      if (!job) throw jobNotFound();
      if (job.type !== 'import') throw notFound(`This job is an ${job.type}: only an import job has rows.csv.`);
      if (job.status === 'processing') throw importNotEnded();
      // Its report went with the work the cancel undid: every row would look good.
      if (job.status === 'cancelled') throw notFound('This import was cancelled before its rows were all checked: it has no rows.csv. Retry it, or upload the file again.');
      // It read no rows to the end, whatever the API's store has now (a worker's store may have lacked it).
      if (endedUnread(job)) throw notFound(job.detail === LOST_UPLOAD_DETAIL ? UNREAD_UPLOAD : UNCHECKED_ROWS);
      // Cleared by the retention once it has removed the upload. A HEAD opens nothing, so an
      // upload lost some other way is found by the GET alone.
      const path = job.input_path;
      if (!path) throw uploadGone();
      return {
        headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="rows-${job.id}.csv"` },
        open: async () => {
          const options = importOptionsSchema.parse(job.options);
          const upload = await storedUploadRecords(deps.uploads, path, options, deps).catch((error: unknown) => {
            // Only an upload that is not stored is gone (removed by the retention, or lost before
            // it: see uploadExpired). A storage (or, for a small upload, PostgreSQL) that fails or
            // stalls is a 503 to try again: a client told 404 would give up a file it can still have.
            if (!isMissingFile(error)) throw storageUnavailable(error);
            throw uploadExpired(job, deps.uploadRetention, request.log) ? uploadGone() : uploadMissing();
          });
          // In the form the job's options read back: the upload's delimiter, and a byte-order mark
          // when it was not read as UTF-8 (see reportFormat). A workbook's rows too, as CSV.
          const format = reportFormat(options, upload.reading);
          const written = (header: string[]) => workbookPriceCells(options, upload.reading === null, header);
          return csvReportStream(rowsCsvRecords(deps, job.id, upload.records, written), format);
        },
      };
    },
  });
}

/**
 * The records of rows.csv: the header with the error columns, then each uploaded row with its
 * problems (none: empty cells). A problem of no uploaded row comes on a line of its own, its
 * uploaded cells empty: the header's (row 0) right after the header, which an import of this file
 * skips (blankRecordTest), so the rows keep their numbers; one where a file-level problem stopped
 * the read at the end, after the last row read.
 */
async function* rowsCsvRecords(
  deps: RowsCsvDeps,
  jobId: string,
  records: AsyncGenerator<string[]>,
  writtenFor: (header: string[]) => ReportCells | null,
): AsyncGenerator<Iterable<string>> {
  const report = allFailedRows(deps.db, jobId);
  const nextFailed = async () => (await report.next()).value as FailedRow | undefined;
  let next = await nextFailed();
  let width = -1;
  let isBlank = isBlankRecord;
  let written: ReportCells | null = null;
  let row = 0;
  const noErrors = ERRORS_CSV_COLUMNS.map(() => '');
  for await (const record of records) {
    if (width < 0) {
      width = record.length;
      isBlank = blankRecordTest(record);
      written = writtenFor(record);
      yield reportRowCells(record, width, ERRORS_CSV_COLUMNS);
      continue;
    }
    // The import skipped these records, and they are left out here so the numbers agree.
    if (isBlank(record)) continue;
    row += 1;
    for (; next && next.row < row; next = await nextFailed()) yield failedRowCells(next, width, written);
    const failed = next?.row === row ? next : null;
    yield reportRowCells(written ? written(record, failed) : record, width, failed ? errorCellsOf(failed) : noErrors);
    if (failed) next = await nextFailed();
  }
  // A file without a header record (EMPTY_FILE) still gets the header of the error columns.
  if (width < 0) {
    width = 0;
    yield ERRORS_CSV_COLUMNS;
  }
  for (; next; next = await nextFailed()) yield failedRowCells(next, width, written);
}
