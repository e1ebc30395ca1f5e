import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { isoTimestamp } from '../../shared/db/timestamps.js';
import { jobNotFinished, jobNotFound, notFound } from '../errors.js';
import { exportContentType, exportFileName } from '../../shared/jobs/export-file.js';
import { exportOptionsSchema } from '../../shared/jobs/export-options.js';
import { findJob } from '../../shared/jobs/job-queries.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { accountIdOf } from '../plugins/auth.js';
import type { OpenStreams } from '../open-streams.js';
import { contentRangeHeader, RANGE_HEADERS, rangedDownload, rangedDownloadHeaders, strongEtag, VALIDATOR_HEADERS } from '../ranged-download.js';
import { AUTH_ERRORS, DOWNLOAD_HEADERS, errorCodes, errorEnvelopeSchema, errorResponses, errorSentences } from '../schemas.js';
import { streamedRoute, type StreamedAnswer } from '../streamed-route.js';
import { noted } from '../../shared/http/response-notes.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';

/**
 * The export file as downloaded (documented for OpenAPI; streamed, never serialized), in the media
 * type of its format (exportContentType): CSV, NDJSON, or either gzipped.
 */
const RESULT_FILE_CONTENT = {
  'text/csv': { schema: z.any().meta({ type: 'string', description: 'format=csv: UTF-8 CSV' }) },
  'application/x-ndjson': { schema: z.any().meta({ type: 'string', description: 'format=ndjson: one product as JSON a line' }) },
  'application/gzip': { schema: z.any().meta({ type: 'string', format: 'binary', description: 'gzip=true: the CSV or NDJSON file gzipped' }) },
};

const resultFileResponse = noted(
  { description: "The export file, named in Content-Disposition; its media type is the export's format", content: RESULT_FILE_CONTENT },
  { headers: { ...DOWNLOAD_HEADERS, ...VALIDATOR_HEADERS, ...RANGE_HEADERS } },
);

/** A Range's answer: the bytes asked for of the export file. */
const resultRangeResponse = noted(
  { description: 'The bytes of the export file that `Range` asked for (one range)', content: RESULT_FILE_CONTENT },
  {
    headers: {
      ...DOWNLOAD_HEADERS,
      ...VALIDATOR_HEADERS,
      ...RANGE_HEADERS,
      ...contentRangeHeader('The bytes sent and the whole size: `bytes <first>-<last>/<size>`', '^bytes \\d+-\\d+/\\d+$'),
    },
  },
);

/** The client's copy is current: no body. */
const resultNotModifiedSchema = noted(
  z.null().meta({ description: "The copy the client has is current: If-None-Match lists the file's ETag, or the file is not newer than If-Modified-Since" }),
  { headers: { ETag: VALIDATOR_HEADERS.ETag! } },
);

/** A Range past the file's end: the envelope, with the file's size in Content-Range. */
const rangeNotSatisfiableSchema = noted(errorEnvelopeSchema, {
  headers: contentRangeHeader("The file's size: `bytes */<size>`", '^bytes \\*/\\d+$'),
});

/** The answer with RESULT_REDIRECT=presigned on object storage (documented for OpenAPI). */
const resultRedirectSchema = noted(
  z.null().meta({ description: 'With RESULT_REDIRECT=presigned on object storage: the file is at `Location`.' }),
  { headers: { Location: { description: 'A presigned URL of the file, valid for 5 minutes', required: true, type: 'string', format: 'uri' } } },
);

/** How long a presigned result URL stays valid: long enough to start the download, short enough not to be shared. */
const PRESIGNED_URL_SECONDS = 300;

// The 404s of the route besides an unknown job; `type` and `status` are a job's, or the placeholders
// the OpenAPI document shows.
const notAnExport = (type: string) => notFound(`This job is an ${type}: only an export job has a result file.`);
const noResult = (status: string) => notFound(`This export ended ${status} and has no result file.`);
const fileExpired = () => notFound('The export file is no longer available: export files are kept for a limited time.');
const fileMissing = () => notFound('The export file is missing from storage; start a new export.');

const DAY_MS = 24 * 60 * 60 * 1000;

/** What the result route needs. */
export interface JobResultDeps {
  db: Db;
  files: FileStore;
  /** `presigned`: redirect to the storage instead of streaming through the API (object storage only). */
  redirect: 'none' | 'presigned';
  /** The downloads open on this process, bounded per account and in all. */
  downloads: OpenStreams;
  /** EXPORT_RETENTION_DAYS: a file missing sooner than this after its export ended was lost, not removed. */
  exportRetentionDays: number;
  /** The current time (ms since the epoch). */
  clock: () => number;
}

/** What a result's download needs of its export's stored options. */
const exportFileOptionsSchema = exportOptionsSchema.pick({ format: true, gzip: true });

/**
 * GET /v1/jobs/{id}/result: streams a completed export's file (HEAD: its headers alone). 409 JOB_NOT_FINISHED while the
 * export runs; 404 for an unknown id, another account's job, a job that is not an export, an
 * export that failed or was cancelled, one whose file the retention has removed, and one whose
 * file is missing before its retention (logged at error: lost data or a misconfigured store). Streams from
 * the file store, or with RESULT_REDIRECT=presigned on object storage answers 302 to the storage.
 * Streamed, it answers validators, conditions and one byte range (see {@link rangedDownload}).
 */
export function jobResultRoutes(app: FastifyInstance, deps: JobResultDeps): void {
  streamedRoute(app, {
    url: '/v1/jobs/:id/result',
    config: { scope: 'jobs:read' },
    schema: {
      operationId: 'downloadJobResult',
      summary: "Download a completed export's file",
      description:
        '409 JOB_NOT_FINISHED while the export runs. 404 NOT_FOUND for an import or enrichment job (`{type}`), an export ' +
        'that ended failed or cancelled (`{status}`), once the file is no longer kept (EXPORT_RETENTION_DAYS), and for a ' +
        'file missing from storage before then (start a new export). ' +
        'A download cut off part-way resumes with `Range: bytes=<bytes received>-` (`curl -C -`), with `If-Range: <ETag>` so that ' +
        'a file that changed comes whole (200). `If-None-Match: <ETag>` answers 304 while the file is the same. ' +
        'HEAD ignores `Range`. With RESULT_REDIRECT=presigned the storage answers these headers itself, after the 302.',
      headers: rangedDownloadHeaders,
      response: {
        200: resultFileResponse,
        206: resultRangeResponse,
        302: resultRedirectSchema,
        304: resultNotModifiedSchema,
        416: rangeNotSatisfiableSchema,
        ...errorResponses(...AUTH_ERRORS),
        ...errorSentences(
          404,
          'NOT_FOUND',
          jobNotFound().message,
          notAnExport('{type}').message,
          noResult('{status}').message,
          fileExpired().message,
          fileMissing().message,
        ),
        ...errorCodes(409, 'JOB_NOT_FINISHED'),
      },
    },
    streams: deps.downloads,
    resolve: async (request, reply): Promise<StreamedAnswer> => {
      const id = request.params.id;
      const job = UUID.test(id) ? await findJob(deps.db, accountIdOf(request), id) : null;
      if (!job) throw jobNotFound();
      if (job.type !== 'export') throw notAnExport(job.type);
      if (job.status === 'processing') throw jobNotFinished();
      if (job.status !== 'completed') throw noResult(job.status);
      // The file's name and type need the format alone: options stored under older rules still serve.
      const options = exportFileOptionsSchema.parse(job.options);
      const path = job.result_path;
      if (!path) throw fileExpired();
      const size = await deps.files.size(path);
      if (size === null) {
        // The retention removes the file, then forgets its path: a download between the two finds
        // no file, past the retention. Sooner, the file was lost (a worker writing to another
        // DATA_DIR or bucket than this API reads, a storage that lost data): not the client's
        // doing, and not something to tell it to wait out.
        const ended = Date.parse(isoTimestamp(job.finished_at!));
        if (deps.clock() - ended >= deps.exportRetentionDays * DAY_MS) throw fileExpired();
        request.log.error({ jobId: job.id, accountId: job.account_id, path }, 'export file missing from storage before its retention ended');
        throw fileMissing();
      }
      const finishedAt = isoTimestamp(job.finished_at!);
      const fileName = exportFileName(job.id, finishedAt, options);
      const contentType = exportContentType(options);
      if (deps.redirect === 'presigned') {
        const url = await deps.files.downloadUrl(path, { fileName, contentType, expiresInSeconds: PRESIGNED_URL_SECONDS });
        if (url) return { status: 302, headers: { 'cache-control': 'no-store', location: url } };
      }
      return rangedDownload(request, reply, {
        size,
        // A completed export's file is never written again; the path (the job's id, the day and the
        // format), its size and the end of the job still tell apart any two files of one URL.
        etag: strongEtag(path, size, finishedAt),
        lastModified: new Date(finishedAt),
        headers: { 'content-type': contentType, 'content-disposition': `attachment; filename="${fileName}"` },
        open: (range) => deps.files.openRead(path, range),
      });
    },
  });
}
