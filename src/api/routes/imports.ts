import type {} from '@fastify/multipart';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { badRequest, multipartTooLarge, payloadTooLarge, unsupportedMediaType } from '../../shared/errors.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { XLSX_MEDIA_TYPE } from '../../shared/jobs/upload-formats.js';
import type { JobQueues } from '../../shared/queues.js';
import type { FileStore, StoredUpload } from '../../shared/storage/file-store.js';
import { callbackUrlSchema } from '../../shared/callbacks/callback-target.js';
import { acceptJob, checkCallbackUrl, requireQueue, sendAccepted, type CallbackSettings } from '../job-acceptance.js';
import type { BusboyLimits } from '../multipart-limits.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses, jobAcceptedSchema } from '../schemas.js';

export interface ImportRouteDeps {
  db: Db;
  queues: JobQueues;
  uploads: FileStore;
  maxUploadBytes: number;
  multipart: BusboyLimits;
  callbacks: CallbackSettings;
}

const DELIMITERS: Record<string, ImportOptions['delimiter']> = {
  ',': ',', comma: ',', ';': ';', semicolon: ';', '\t': '\t', tab: '\t',
};

const importQuery = z.object({
  mode: z.enum(['upsert', 'create', 'update']).default('upsert'),
  on_error: z.enum(['abort', 'skip']).default('abort'),
  delimiter: z
    .string()
    .refine((value) => Object.hasOwn(DELIMITERS, value), { error: 'expected one of ",", ";", "tab"' })
    .optional()
    // The refinement is invisible to JSON Schema: the document lists the accepted spellings.
    .meta({ enum: Object.keys(DELIMITERS) }),
  dry_run: z.enum(['true', 'false']).default('false'),
  callback_url: callbackUrlSchema.optional(),
  sheet: z.string().min(1).max(255).optional().describe('An .xlsx workbook\'s sheet to import, by name or 1-based position; default the first'),
});

const idempotencyKeyHeader = z.string().min(1).max(255).optional();

const CSV_MEDIA_TYPES = new Set(['text/csv', 'application/csv']);

const EXPECTED_MEDIA_TYPES = `send the CSV as text/csv, an .xlsx workbook as ${XLSX_MEDIA_TYPE}, or either as multipart/form-data with a 'file' field`;

/** The media type of a Content-Type header, lower case, without parameters. */
const mediaTypeOf = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

/**
 * Refuses, before any body is parsed, an import body that is neither CSV nor multipart (API.md §1:
 * 415): Fastify would otherwise parse JSON or plain text into something that is not an upload.
 */
async function requireImportMediaType(request: FastifyRequest): Promise<void> {
  const contentType = request.headers['content-type'];
  const mediaType = mediaTypeOf(contentType);
  if (!CSV_MEDIA_TYPES.has(mediaType) && mediaType !== XLSX_MEDIA_TYPE && mediaType !== 'multipart/form-data') {
    throw unsupportedMediaType(contentType, EXPECTED_MEDIA_TYPES);
  }
}

/** POST /v1/imports: store the upload, write the job row, queue it, answer 202 at once. */
export function importRoutes(app: FastifyInstance, deps: ImportRouteDeps): void {
  // text/csv bodies are handed to the route as the raw request stream: never buffered by Fastify.
  app.addContentTypeParser(['text/csv', 'application/csv', XLSX_MEDIA_TYPE], (_request, payload, done) => done(null, payload));

  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/imports',
    {
      config: { scope: 'imports:write' },
      onRequest: requireImportMediaType,
      schema: {
        summary: 'Start an import of a CSV file or an .xlsx workbook',
        description:
          'Body: the CSV file raw as `text/csv`, the workbook raw as `' + XLSX_MEDIA_TYPE + '`, or either as ' +
          '`multipart/form-data` with a `file` field (a workbook by its `.xlsx` file name or content type).',
        querystring: importQuery,
        headers: z.object({ 'idempotency-key': idempotencyKeyHeader }).loose(),
        response: { 202: jobAcceptedSchema, ...errorResponses(400, 408, 413, 415, 422, ...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      // Refuse before reading a possibly large body when the job could not be queued anyway.
      requireQueue(deps.queues);
      await checkCallbackUrl(request.query.callback_url, deps.callbacks, accountId);
      const query = request.query;
      const options: ImportOptions = {
        mode: query.mode,
        on_error: query.on_error,
        delimiter: query.delimiter === undefined ? null : DELIMITERS[query.delimiter]!,
        dry_run: query.dry_run === 'true',
        ...(query.sheet === undefined ? {} : { sheet: query.sheet }),
      };
      const { upload, format } = await receiveUpload(request, deps);
      if (format === 'xlsx') options.format = 'xlsx';
      const requestHash = createHash('sha256')
        .update(JSON.stringify(options))
        .update(upload.sha256)
        .update(query.callback_url ?? '')
        .digest('hex');
      const job = await acceptJob(
        deps,
        {
          accountId,
          type: 'import',
          options: { ...options },
          requestHash,
          idempotencyKey: request.headers['idempotency-key'],
          inputPath: upload.path,
          inputBytes: upload.bytes,
          callbackUrl: query.callback_url,
        },
        () => deps.uploads.remove(upload.path),
      );
      return sendAccepted(reply, job);
    },
  );
}

/** A workbook by its content type or, in a multipart body, its `.xlsx` file name. */
function uploadFormat(mediaType: string | undefined, filename?: string): UploadFormat {
  return mediaTypeOf(mediaType) === XLSX_MEDIA_TYPE || /\.xlsx$/i.test(filename?.trim() ?? '') ? 'xlsx' : 'csv';
}

type UploadFormat = 'csv' | 'xlsx';

/** Streams the upload (raw body or the multipart `file` field) into the upload store. */
async function receiveUpload(request: FastifyRequest, deps: ImportRouteDeps): Promise<{ upload: StoredUpload; format: UploadFormat }> {
  const { upload: stored, format } = request.isMultipart()
    ? await receiveMultipart(request, deps)
    : { upload: await deps.uploads.save(request.body as Readable, deps.maxUploadBytes), format: uploadFormat(request.headers['content-type']) };
  if (stored.bytes === 0) {
    await deps.uploads.remove(stored.path);
    throw badRequest('The uploaded file is empty.');
  }
  return { upload: stored, format };
}

/** busboy's codes for a multipart body over its limits (parts, text fields, files). */
const MULTIPART_LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FIELDS_LIMIT', 'FST_FILES_LIMIT']);

/**
 * Stores the `file` part of a multipart upload. Text fields are not used, and are allowed only
 * within the configured limits: a field over its size, or a body over its field or part count,
 * is a 413 as soon as it is seen, without buffering the rest.
 */
async function receiveMultipart(request: FastifyRequest, deps: ImportRouteDeps): Promise<{ upload: StoredUpload; format: UploadFormat }> {
  const limits = deps.multipart;
  const overLimits = () => multipartTooLarge({ fields: limits.fields, fieldBytes: limits.fieldSize, parts: limits.parts });
  try {
    for await (const part of request.parts({ limits })) {
      if (part.type === 'field') {
        if (part.valueTruncated) throw overLimits();
      } else if (part.fieldname === 'file') {
        const stored = await deps.uploads.save(part.file, deps.maxUploadBytes);
        // Past the limit the multipart parser cuts the file short and only reports it on the next
        // part, which is never read: a truncated file must not be imported as if it were whole.
        if (part.file.truncated) {
          await deps.uploads.remove(stored.path);
          throw payloadTooLarge(deps.maxUploadBytes);
        }
        return { upload: stored, format: uploadFormat(part.mimetype, part.filename) };
      } else part.file.resume();
    }
  } catch (error) {
    if (MULTIPART_LIMIT_CODES.has((error as { code?: string }).code ?? '')) throw overLimits();
    throw error;
  }
  throw badRequest("The multipart body has no 'file' field: send the CSV as the field named 'file'.");
}
