import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { boundedPageOf, countPart, decodeCursor, isNewestFirstPosition, keysetPosition, pageOf } from '../cursor.js';
import type { Db } from '../../shared/db/pool.js';
import { AppError } from '../errors.js';
import { allFailedRows, ERRORS_CSV_COLUMNS, listJobErrors } from '../../shared/jobs/job-error-queries.js';
import { findJobOfAnyAccount, jobFinder } from '../../shared/jobs/job-queries.js';
import { listJobs, listJobsOfEveryAccount } from '../../shared/jobs/job-list-queries.js';
import { JOB_STATUSES, JOB_TYPES, type JobRow } from '../../shared/jobs/job-row.js';
import { importOptionsSchema } from '../../shared/jobs/import-options.js';
import { findUploadHeader, type UploadHeader } from '../../shared/jobs/upload-header-queries.js';
import { reportFormat, type ReportFormat } from '../../shared/jobs/upload-reading.js';
import { csvReportStream, failedRowCells, reportRowCells } from '../csv-report.js';
import { workbookPriceCells, type ReportCells } from '../workbook-report-prices.js';
import { accountIdOf } from '../plugins/auth.js';
import { rowErrorCodeSchema } from '../plugins/openapi-report-codes.js';
import type { JobCache, JobFind } from '../job-cache.js';
import { jobOr404, jobResourceFor } from '../job-lookup.js';
import { queuedUploadHeader } from '../queued-upload-header.js';
import type { OpenStreams } from '../open-streams.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import type { RecordLimits } from '../../workers/import/stored-records.js';
import { prefetched, type Lookup } from '../prefetch.js';
import { AUTH_ERRORS, csvDownloadResponse, errorResponses, jobResourceSchema, pageQueryFields, pageSchema } from '../schemas.js';
import { streamedRoute } from '../streamed-route.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';

/** The form of a job id; anything else is an unknown job (404), never a 400. */
const jobParams = z.object({ id: z.string() });
const jobErrorSchema = z.object({
  row: z.number().int(),
  ean: z.string().nullable(),
  field: z.string().nullable(),
  code: rowErrorCodeSchema,
  message: z.string(),
});
const jobSchema = {
  operationId: 'getJob',
  summary: 'One job by id',
  params: jobParams,
  response: { 200: jobResourceSchema, ...errorResponses(404, ...AUTH_ERRORS) },
};
const errorsCsvSchema = {
  operationId: 'downloadJobErrorsCsv',
  summary: "A job's failed rows as CSV, with their errors",
  response: {
    200: csvDownloadResponse(
      "The failed rows as uploaded, then error_row, error_field, error_code (the row's RowErrorCode values, joined with " +
        "`; `), error_message; an import's in the upload's delimiter, UTF-8 after a byte-order mark when the upload was " +
        'not read as UTF-8',
    ),
    ...errorResponses(404, ...AUTH_ERRORS),
  },
};

/** The account's job `id`; 404 for an unknown id, a malformed one, or another account's job. */
const ownJob = (findJob: JobFind, accountId: string, id: string): Promise<JobRow> => jobOr404(id, (jobId) => findJob(accountId, jobId));

const NOT_A_SCHEDULE_ID = 'it must be the id of an export schedule.';

const isErrorPosition = keysetPosition<[number, number]>(countPart, countPart);

/** Job routes of API.md §4: list, one job, its report as JSON pages and as CSV (GET, or HEAD for its headers). */
export function jobRoutes(
  app: FastifyInstance,
  deps: { db: Db; jobCache: JobCache; downloads: OpenStreams; uploads: FileStore; limits: RecordLimits },
): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const config = { scope: 'jobs:read' as const };
  const findJob = jobFinder(deps.db);

  routes.get(
    '/v1/jobs',
    {
      config: { ...config, adminAllowed: true },
      schema: {
        operationId: 'listJobs',
        summary: 'List jobs, newest first (cursor-paginated)',
        querystring: z.object({
          account_id: z.uuid().optional().describe('operator key only: the jobs of this account (default: every account)'),
          type: z.enum(JOB_TYPES).optional(),
          status: z.enum(JOB_STATUSES).optional(),
          schedule_id: z
            .string()
            .max(36, { error: NOT_A_SCHEDULE_ID })
            .regex(UUID, { error: NOT_A_SCHEDULE_ID })
            .optional()
            .describe("the runs of this export schedule: with status=completed&limit=1, the schedule's newest file"),
          ...pageQueryFields,
        }),
        response: { 200: pageSchema(jobResourceSchema), ...errorResponses(400, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const { type, status, schedule_id: scheduleId, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isNewestFirstPosition) : undefined;
      const query = { type, status, scheduleId, limit, after: after && { createdAt: after[0], id: after[1] } };
      const accountFilter = request.query.account_id;
      if (accountFilter && request.principal?.kind !== 'admin') {
        throw new AppError(403, 'PERMISSION_DENIED', "Only the operator key may list another account's jobs (account_id).");
      }
      const page =
        request.principal?.kind !== 'admin'
          ? await listJobs(deps.db, accountIdOf(request), query)
          : accountFilter
            ? await listJobs(deps.db, accountFilter, query)
            : await listJobsOfEveryAccount(deps.db, query);
      return boundedPageOf(page, (row) => [row.created_at, row.id], jobResourceFor(request));
    },
  );

  // Polled by every client waiting for its job: looked up while the request is being admitted, and
  // kept by this process until the job changes.
  const findPolledJob = deps.jobCache.finder(findJob);
  const lookupJob: Lookup<JobRow> = (request, accountId) => ownJob(findPolledJob, accountId, (request.params as { id: string }).id);
  /** The job the caller may read: its account's own, or, for the operator key, any account's. */
  const readableJob = (request: FastifyRequest<{ Params: { id: string } }>): Promise<JobRow> =>
    request.principal?.kind === 'admin'
      ? jobOr404(request.params.id, (id) => findJobOfAnyAccount(deps.db, id))
      : prefetched(request, lookupJob, accountIdOf(request));
  const readConfig = { ...config, adminAllowed: true };
  routes.get('/v1/jobs/:id', { config: { ...readConfig, prefetch: lookupJob }, schema: jobSchema }, async (request) =>
    jobResourceFor(request)(await readableJob(request)),
  );

  routes.get(
    '/v1/jobs/:id/errors',
    {
      config: readConfig,
      schema: {
        operationId: 'getJobErrors',
        summary: "A job's per-row error report (cursor-paginated)",
        params: jobParams,
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(jobErrorSchema), ...errorResponses(400, 404, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const job = await readableJob(request);
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isErrorPosition) : undefined;
      const rows = await listJobErrors(deps.db, job.id, { limit, after });
      return pageOf(
        rows,
        limit,
        (row) => [row.row, row.ordinal],
        ({ row, ean, field, code, message }) => ({ row, ean, field, code, message }),
      );
    },
  );

  streamedRoute(app, {
    url: '/v1/jobs/:id/errors.csv',
    config,
    schema: errorsCsvSchema,
    streams: deps.downloads,
    resolve: async (request) => {
      const job = await ownJob(findJob, accountIdOf(request), request.params.id);
      return {
        headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="errors-${job.id}.csv"` },
        open: async () => {
          let header = await findUploadHeader(deps.db, job.id);
          // Its first line is the uploaded header, then the error columns (API.md §4). Before the
          // worker has recorded that header it is read from the upload itself (here, once the
          // download is counted: a workbook's shared strings are read with it), or the download
          // would start with the error columns alone, a file of another shape than the same URL
          // gives a moment later. An import that ended without one (an empty file) has them alone.
          if (job.type === 'import' && job.status === 'processing' && !header.read && job.input_path) {
            header = await queuedUploadHeader(deps.uploads, job.input_path, importOptionsSchema.parse(job.options), deps.limits);
          }
          const { format, written } = errorsCsvForm(job, header);
          return csvReportStream(errorsCsvRecords(deps.db, job.id, header.columns, written), format);
        },
      };
    },
  });
}

/**
 * How an import's errors.csv is written: in the form the options it was sent with read back (see
 * reportFormat and workbookPriceCells). Other jobs' reports are UTF-8 with commas.
 */
function errorsCsvForm(job: JobRow, header: UploadHeader): { format: ReportFormat; written: ReportCells | null } {
  const options = job.type === 'import' ? importOptionsSchema.safeParse(job.options).data : undefined;
  if (!options) return { format: { delimiter: ',', bom: false }, written: null };
  return {
    format: reportFormat(options, header.reading),
    written: workbookPriceCells(options, options.format === 'xlsx', header.columns),
  };
}

/**
 * The records of errors.csv: the header as uploaded plus the error columns, then each failed row
 * once, its cells as uploaded (empty for a file-level problem) with its row number and problems
 * ({@link reportRowCells}). Read in pages bounded by rows and bytes and yielded cell by
 * cell, so a report of any size, or a row of any width, streams in flat memory.
 */
async function* errorsCsvRecords(db: Db, jobId: string, columns: string[], written: ReportCells | null): AsyncGenerator<Iterable<string>> {
  yield reportRowCells(columns, columns.length, ERRORS_CSV_COLUMNS);
  for await (const failed of allFailedRows(db, jobId)) yield failedRowCells(failed, columns.length, written);
}

