import type {} from '@fastify/multipart';
import { hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { badRequest, idempotencyKeyReused, multipartTooLarge, notFound, payloadTooLarge, unsupportedMediaType } from '../errors.js';
import { DECIMAL_SEPARATORS, IMPORT_ENCODINGS, importModeSchema, onErrorSchema, type ImportEncoding } from '../../shared/jobs/import-options.js';
import { resolveImportOptions } from '../../shared/imports/import-profile.js';
import { DELIMITER_NAMES } from '../../shared/jobs/delimiters.js';
import { findImportProfile } from '../../shared/imports/import-profile-queries.js';
import { startsLikeZip, XLSX_MEDIA_TYPE, ZIP_SIGNATURE } from '../../shared/jobs/upload-formats.js';
import type { JobQueues } from '../../shared/queues.js';
import type { FileStore, SaveOptions } from '../../shared/storage/file-store.js';
import { INLINE_UPLOAD_BYTES } from '../../shared/storage/inline-uploads.js';
import { readWhole } from '../../shared/storage/read-whole.js';
import { callbackUrlSchema } from '../../shared/callbacks/callback-target.js';
import { strictQuery } from '../strict-query.js';
import { checkCallbackUrl, idempotencyKeyHeader, JOB_REPEAT, requestHashOf, requireQueue, sendAccepted, type CallbackSettings, type JobAcceptor } from '../job-acceptance.js';
import { mediaTypeOf, mediaTypeParameter } from '../media-type.js';
import { boundaryProblem } from '../multipart-boundary.js';
import { MultipartFileContentType } from '../multipart-file-content-type.js';
import { fileFieldNotAFile, malformedMultipart, MULTIPART_LIMIT_CODES, noFileField } from '../multipart-form.js';
import type { BusboyLimits } from '../multipart-limits.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses, errorSentences, jobAcceptedSchema } from '../schemas.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';
import { charsetEncoding } from '../upload-charset.js';
import { refuseDeclaredOversize } from '../declared-upload-size.js';

export interface ImportRouteDeps {
  db: Db;
  queues: JobQueues;
  uploads: FileStore;
  maxUploadBytes: number;
  multipart: BusboyLimits;
  callbacks: CallbackSettings;
  acceptJob: JobAcceptor;
}

// No zod defaults on the settings a profile can hold: a parameter left out must not hide the
// profile's value. The defaults are applied by resolveImportOptions. Any other parameter is a 400.
const importQuery = strictQuery({
  profile: z.string().min(1).max(255).optional().meta({ description: 'A saved import profile, by id or name; the parameters below win over it' }),
  mode: importModeSchema.optional().meta({ description: 'default upsert' }),
  on_error: onErrorSchema.optional().meta({ description: 'default abort' }),
  delimiter: z
    .string()
    .refine((value) => Object.hasOwn(DELIMITER_NAMES, value), { error: 'expected one of ",", ";", "tab"' })
    .optional()
    // The refinement is invisible to JSON Schema: the document lists the accepted spellings.
    .meta({ enum: Object.keys(DELIMITER_NAMES), description: 'default: the `sep=` line, else detected among `,` `;` and tab' }),
  encoding: z
    .enum(IMPORT_ENCODINGS)
    .optional()
    .meta({
      description:
        "CSV only; default: the profile's, else the file's Content-Type charset, else utf-8; a byte-order mark is detected; " +
        'iso-8859-1 is read as windows-1252, as browsers read it',
    }),
  decimal_separator: z.enum(DECIMAL_SEPARATORS).optional().meta({ description: 'how prices write decimals; default "."' }),
  sheet: z
    .string()
    .min(1)
    .max(255)
    .optional()
    .meta({ description: "An .xlsx workbook's sheet to import, by name or 1-based position (hidden sheets counted); default the first visible sheet" }),
  dry_run: z.enum(['true', 'false']).default('false'),
  callback_url: callbackUrlSchema.optional(),
});

const CSV_MEDIA_TYPES = new Set(['text/csv', 'application/csv']);

const EXPECTED_MEDIA_TYPES = `send the CSV as text/csv, an .xlsx workbook as ${XLSX_MEDIA_TYPE}, or either as multipart/form-data with a 'file' field`;

/**
 * Refuses, before any body is parsed, an import body that is neither CSV nor multipart (API.md §1:
 * 415): Fastify would otherwise parse JSON or plain text into something that is not an upload.
 * A CSV body labelled with a charset the import cannot read is refused too (a workbook's is ignored),
 * and so is a multipart body without a boundary its parser can look for (400).
 */
async function requireImportMediaType(request: FastifyRequest): Promise<void> {
  const contentType = request.headers['content-type'];
  const mediaType = mediaTypeOf(contentType);
  if (!CSV_MEDIA_TYPES.has(mediaType) && mediaType !== XLSX_MEDIA_TYPE && mediaType !== 'multipart/form-data') {
    throw unsupportedMediaType(contentType, EXPECTED_MEDIA_TYPES);
  }
  if (CSV_MEDIA_TYPES.has(mediaType)) charsetEncoding(contentType);
  if (mediaType === 'multipart/form-data') {
    const problem = boundaryProblem(contentType);
    if (problem) throw problem;
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
      onRequest: [requireImportMediaType, refuseDeclaredOversize(deps.maxUploadBytes, deps.multipart)],
      schema: {
        operationId: 'createImport',
        summary: 'Start an import of a CSV file or an .xlsx workbook',
        description:
          'Body: the CSV file raw as `text/csv`, the workbook raw as `' + XLSX_MEDIA_TYPE + '`, or either as ' +
          '`multipart/form-data` in a file part named `file`, with a filename (a workbook by its `.xlsx` file name or content type). ' +
          "A CSV file's encoding is `encoding`, else the profile's, else the `charset` of its Content-Type " +
          '(utf-8, us-ascii, windows-1252, iso-8859-1, utf-16, utf-16le, utf-16be and their usual aliases; ' +
          'another charset is a 415), else UTF-8. A query parameter not listed here is a 400 naming it; no job starts.',
        querystring: importQuery,
        headers: z.object({ 'idempotency-key': idempotencyKeyHeader(JOB_REPEAT) }).loose(),
        response: { 202: jobAcceptedSchema, ...errorResponses(400, 404, 408, 413, 415, ...AUTH_ERRORS), ...errorSentences(422, 'VALIDATION_ERROR', idempotencyKeyReused().message) },
      },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      // Refuse before reading a possibly large body when the job could not be queued anyway.
      requireQueue(deps.queues);
      await checkCallbackUrl(request.query.callback_url, deps.callbacks, accountId);
      const query = request.query;
      const profile = query.profile === undefined ? null : await profileNamed(deps.db, accountId, query.profile);
      const options = resolveImportOptions(profile, {
        ...query,
        delimiter: query.delimiter === undefined ? undefined : DELIMITER_NAMES[query.delimiter]!,
        dry_run: query.dry_run === 'true',
      });
      const idempotencyKey = request.headers['idempotency-key'];
      // Only a repeat of an Idempotency-Key compares requests: without one, the upload is not hashed.
      const received = await receiveUpload(request, deps, { sha256: idempotencyKey !== undefined }).catch((error: unknown) => {
        // The body timeout (request-guards.ts) answered 408 and ended the request, so the read
        // failed: the client's doing, already answered, and no failure for the error log.
        if (!reply.sent) throw error;
        request.log.info({ err: error }, 'upload read ended after the request was answered');
        return null;
      });
      if (!received) return;
      const { upload, format, charset } = received;
      if (format === 'xlsx') options.format = 'xlsx';
      // The label comes last: a profile is set for the account's files, while many clients put
      // `charset=utf-8` on whatever they send.
      else options.encoding ??= charset;
      const requestHash = requestHashOf(idempotencyKey, JSON.stringify(options), upload.sha256 ?? '', query.callback_url ?? '');
      const job = await deps.acceptJob(
        {
          accountId,
          type: 'import',
          options: { ...options },
          requestHash,
          idempotencyKey,
          inputPath: upload.path,
          inputData: upload.data,
          inputBytes: upload.bytes,
          callbackUrl: query.callback_url,
        },
        () => discard(deps, upload),
      );
      return sendAccepted(reply, job);
    },
  );
}

/** The account's import profile `key` (an id or a name); 404 naming the parameter when there is none. */
async function profileNamed(db: Db, accountId: string, key: string) {
  const profile = await findImportProfile(db, accountId, { id: UUID.test(key) ? key : null, name: key });
  if (!profile) throw notFound(`Import profile '${key}' (query parameter 'profile') not found: create it with POST /v1/import-profiles.`);
  return profile;
}

/** A workbook by its content type or, in a multipart body, its `.xlsx` file name. */
function uploadFormat(mediaType: string | undefined, filename?: string): UploadFormat {
  return mediaTypeOf(mediaType) === XLSX_MEDIA_TYPE || /\.xlsx$/i.test(filename?.trim() ?? '') ? 'xlsx' : 'csv';
}

type UploadFormat = 'csv' | 'xlsx';

/** What an upload is: its format and, for CSV, the encoding its Content-Type's charset names. */
interface UploadKind {
  format: UploadFormat;
  charset: ImportEncoding | null;
}

/** The kind of an upload sent with `contentType` (a 415 for a charset that cannot be read). */
function uploadKind(contentType: string | undefined, filename?: string): UploadKind {
  const format = uploadFormat(contentType, filename);
  return { format, charset: format === 'csv' ? charsetEncoding(contentType) : null };
}

/**
 * An upload as received: a small one read whole (`data`), to be kept with its job row; a larger one
 * streamed into the upload store (`path`).
 */
type ReceivedUpload = { path: string; data: null; bytes: number; sha256: string | null } | { path: null; data: Buffer; bytes: number; sha256: string | null };

/** Removes a stored upload whose job was not written (an upload kept with the row goes with it). */
async function discard(deps: ImportRouteDeps, upload: ReceivedUpload): Promise<void> {
  if (upload.path !== null) await deps.uploads.remove(upload.path);
}

/** Receives the upload (raw body or the multipart `file` field): see {@link ReceivedUpload}. */
async function receiveUpload(
  request: FastifyRequest,
  deps: ImportRouteDeps,
  save: SaveOptions,
): Promise<{ upload: ReceivedUpload } & UploadKind> {
  const received = request.isMultipart()
    ? await receiveMultipart(request, deps, save)
    : { upload: await receiveBody(request.body as Readable, deps, save), ...uploadKind(request.headers['content-type']) };
  if (received.upload.bytes === 0) {
    await discard(deps, received.upload);
    throw badRequest('The uploaded file is empty.');
  }
  // The worker reads a zip archive as a workbook whatever it was sent as (a workbook named
  // data.csv): the job's options say what the import reads.
  if (received.format === 'csv' && startsLikeZip(await uploadHead(deps, received.upload))) {
    return { upload: received.upload, format: 'xlsx', charset: null };
  }
  return received;
}

/** The first bytes of the upload, enough to tell a zip archive; a stored upload that cannot be read is removed. */
async function uploadHead(deps: ImportRouteDeps, upload: ReceivedUpload): Promise<Buffer> {
  if (upload.path === null) return upload.data;
  try {
    return await deps.uploads.head(upload.path, ZIP_SIGNATURE.length);
  } catch (error) {
    await discard(deps, upload);
    throw error;
  }
}

/** Reads `source` whole if it ends within INLINE_UPLOAD_BYTES (and the upload limit), else stores it. */
async function receiveBody(source: Readable, deps: ImportRouteDeps, save: SaveOptions): Promise<ReceivedUpload> {
  const data = await readWhole(source, Math.min(INLINE_UPLOAD_BYTES, deps.maxUploadBytes));
  if (data) return { path: null, data, bytes: data.length, sha256: save.sha256 ? hash('sha256', data) : null };
  return { ...(await deps.uploads.save(source, deps.maxUploadBytes, save)), data: null };
}

/**
 * Stores the `file` part of a multipart upload. Text fields are not used, and are allowed only
 * within the configured limits: a field over its size, or a body over its field or part count,
 * is a 413 as soon as it is seen, without buffering the rest.
 */
async function receiveMultipart(
  request: FastifyRequest,
  deps: ImportRouteDeps,
  save: SaveOptions,
): Promise<{ upload: ReceivedUpload } & UploadKind> {
  const limits = deps.multipart;
  const overLimits = () => multipartTooLarge({ fields: limits.fields, fieldBytes: limits.fieldSize, parts: limits.parts });
  // Listening from here, before the loop starts the body flowing into busboy, it sees every byte.
  const fileContentType = new MultipartFileContentType(request.raw, mediaTypeParameter(request.headers['content-type'], 'boundary') ?? '');
  let fields = 0;
  let received: ({ upload: ReceivedUpload } & UploadKind) | null = null;
  try {
    // busboy skips the field past its limit but still hands over a file after it, ahead of its
    // limit error: given one field more, it lets the route see that field and refuse it first.
    for await (const part of request.parts({ limits: { ...limits, fields: limits.fields + 1 } })) {
      if (part.type === 'field') {
        if (part.fieldname === 'file') throw fileFieldNotAFile();
        fields += 1;
        if (part.valueTruncated || fields > limits.fields) throw overLimits();
      } else if (part.fieldname === 'file') {
        // Known before the file is read: a charset that cannot be read stores nothing.
        const kind = uploadKind(fileContentType.contentTypeOf(part.mimetype) ?? part.mimetype, part.filename);
        const stored = await receiveBody(part.file, deps, save);
        received = { upload: stored, ...kind };
        // The body is read on to its end: a second file after it is over busboy's limit of one
        // file, a 413, where returning here would drop it unseen.
        // Past the limit the multipart parser cuts the file short and only reports it on the next
        // part, which is never read: a truncated file must not be imported as if it were whole.
        if (part.file.truncated) throw payloadTooLarge(deps.maxUploadBytes);
        fileContentType.stop();
      } else part.file.resume();
    }
  } catch (error) {
    if (received) await discard(deps, received.upload);
    if (MULTIPART_LIMIT_CODES.has((error as { code?: string }).code ?? '')) throw overLimits();
    throw malformedMultipart(error) ?? error;
  } finally {
    fileContentType.stop();
  }
  if (received) return received;
  throw noFileField();
}
