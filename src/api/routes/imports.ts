import type {} from '@fastify/multipart';
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { AppError, badRequest, payloadTooLarge, serviceUnavailable, unsupportedMediaType } from '../../shared/errors.js';
import { deleteJob, findJobByIdempotencyKey, insertJob } from '../../shared/jobs/job-queries.js';
import type { JobRow } from '../../shared/jobs/job-row.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { JobQueues } from '../../shared/queues.js';
import type { StoredUpload, UploadStore } from '../../shared/upload-store.js';
import { accountIdOf } from '../plugins/auth.js';

export interface ImportRouteDeps {
  db: Db;
  queues: JobQueues;
  uploads: UploadStore;
  maxUploadBytes: number;
}

const DELIMITERS: Record<string, ImportOptions['delimiter']> = {
  ',': ',', comma: ',', ';': ';', semicolon: ';', '\t': '\t', tab: '\t',
};

const importQuery = z.object({
  mode: z.enum(['upsert', 'create', 'update']).default('upsert'),
  on_error: z.enum(['abort', 'skip']).default('abort'),
  delimiter: z
    .string()
    .refine((value) => value in DELIMITERS, { error: 'expected one of ",", ";", "tab"' })
    .optional(),
  dry_run: z.enum(['true', 'false']).default('false'),
});

const idempotencyKeyHeader = z.string().min(1).max(255).optional();

const CSV_MEDIA_TYPES = new Set(['text/csv', 'application/csv']);

/**
 * Refuses, before any body is parsed, an import body that is neither CSV nor multipart (API.md §1:
 * 415): Fastify would otherwise parse JSON or plain text into something that is not an upload.
 */
async function requireImportMediaType(request: FastifyRequest): Promise<void> {
  const contentType = request.headers['content-type'];
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!CSV_MEDIA_TYPES.has(mediaType) && mediaType !== 'multipart/form-data') throw unsupportedMediaType(contentType);
}

/** POST /v1/imports: store the upload, write the job row, queue it, answer 202 at once. */
export function importRoutes(app: FastifyInstance, deps: ImportRouteDeps): void {
  // text/csv bodies are handed to the route as the raw request stream: never buffered by Fastify.
  app.addContentTypeParser(['text/csv', 'application/csv'], (_request, payload, done) => done(null, payload));

  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/imports',
    {
      config: { scope: 'imports:write' },
      onRequest: requireImportMediaType,
      schema: { querystring: importQuery, headers: z.object({ 'idempotency-key': idempotencyKeyHeader }).loose() },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      // Refuse before reading a possibly large body when the job could not be queued anyway.
      if (!deps.queues.ready()) {
        throw serviceUnavailable('The job queue is unavailable; the upload was not accepted. Try again shortly.');
      }
      const query = request.query;
      const options: ImportOptions = {
        mode: query.mode,
        on_error: query.on_error,
        delimiter: query.delimiter === undefined ? null : DELIMITERS[query.delimiter]!,
        dry_run: query.dry_run === 'true',
      };
      const upload = await receiveUpload(request, deps);
      const job = await acceptJob(deps, accountId, options, upload, request.headers['idempotency-key']);
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send({ id: job.id, status: job.status });
    },
  );
}

/** Streams the CSV (raw body or the multipart `file` field) into the upload store. */
async function receiveUpload(request: FastifyRequest, deps: ImportRouteDeps): Promise<StoredUpload> {
  let stored: StoredUpload | undefined;
  if (request.isMultipart()) {
    for await (const part of request.parts({ limits: { fileSize: deps.maxUploadBytes, files: 1 } })) {
      if (part.type === 'file' && part.fieldname === 'file') {
        stored = await deps.uploads.save(part.file, deps.maxUploadBytes);
        // Past the limit the multipart parser cuts the file short and only reports it on the next
        // part, which is never read: a truncated file must not be imported as if it were whole.
        if (part.file.truncated) {
          await deps.uploads.remove(stored.path);
          throw payloadTooLarge(deps.maxUploadBytes);
        }
        break;
      }
      if (part.type === 'file') part.file.resume();
    }
    if (!stored) throw badRequest("The multipart body has no 'file' field: send the CSV as the field named 'file'.");
  } else {
    stored = await deps.uploads.save(request.body as Readable, deps.maxUploadBytes);
  }
  if (stored.bytes === 0) {
    await deps.uploads.remove(stored.path);
    throw badRequest('The uploaded file is empty.');
  }
  return stored;
}

/**
 * Writes the job row, then queues the id. With an Idempotency-Key, a repeat of the same request
 * within 24 hours returns the first job; the key with another request is a 422. If queueing
 * fails, the row and the upload are removed and the client gets 503: nothing half-accepted.
 */
async function acceptJob(
  deps: ImportRouteDeps,
  accountId: string,
  options: ImportOptions,
  upload: StoredUpload,
  idempotencyKey: string | undefined,
): Promise<JobRow> {
  const requestHash = createHash('sha256').update(JSON.stringify(options)).update(upload.sha256).digest('hex');
  if (idempotencyKey) {
    const earlier = await findJobByIdempotencyKey(deps.db, accountId, idempotencyKey);
    if (earlier) {
      await deps.uploads.remove(upload.path);
      return sameRequestOrConflict(earlier, requestHash);
    }
  }
  const id = randomUUID();
  let job: JobRow;
  try {
    job = await insertJob(deps.db, {
      id,
      accountId,
      type: 'import',
      options,
      inputPath: upload.path,
      inputBytes: upload.bytes,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
    });
  } catch (error) {
    await deps.uploads.remove(upload.path);
    // A concurrent request with the same Idempotency-Key won the race: answer with its job.
    if ((error as { code?: string }).code === '23505' && idempotencyKey) {
      const winner = await findJobByIdempotencyKey(deps.db, accountId, idempotencyKey);
      if (winner) return sameRequestOrConflict(winner, requestHash);
    }
    throw error;
  }
  try {
    await deps.queues.enqueue('import', id);
  } catch {
    await deleteJob(deps.db, accountId, id).catch(() => {});
    await deps.uploads.remove(upload.path);
    throw serviceUnavailable('The job queue is unavailable; the upload was not accepted. Try again shortly.');
  }
  return job;
}

function sameRequestOrConflict(earlier: { job: JobRow; requestHash: string | null }, requestHash: string): JobRow {
  if (earlier.requestHash !== requestHash) {
    throw new AppError(422, 'VALIDATION_ERROR', 'This Idempotency-Key was already used with a different request.');
  }
  return earlier.job;
}
