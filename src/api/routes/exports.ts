import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { rejectInvalidQuery } from '../body-validation.js';
import { badRequestBody, idempotencyKeyReused } from '../errors.js';
import { boundMappedColumns } from '../mapped-columns-bound.js';
import { exportRequestSchema, parseExportRequest, type ExportOptions, type ExportRequest } from '../../shared/jobs/export-options.js';
import type { JobQueues } from '../../shared/queues.js';
import {
  checkCallbackUrl,
  idempotencyKeyHeader,
  JOB_REPEAT,
  idempotencyKeyOf,
  requestHashOf,
  requireQueue,
  sendAccepted,
  type CallbackSettings,
  type JobAcceptor,
} from '../job-acceptance.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses, errorSentences, jobAcceptedSchema } from '../schemas.js';
import { bodyOptionsOnlyQuery } from '../strict-query.js';

/**
 * Validates an export request body: 400 BAD_REQUEST naming the first problem (an unknown
 * format or field, a filter of the wrong type), the first 20 of them in `errors`.
 */
export function exportOptionsOf(body: unknown, prefix = ''): ExportOptions {
  const parsed = parseExportRequest(body, prefix);
  if (!parsed.ok) throw badRequestBody(parsed.problems);
  return parsed.options;
}

/** POST /v1/exports: write the export job row, queue it, answer 202 at once. */
export function exportRoutes(app: FastifyInstance, deps: { db: Db; queues: JobQueues; callbacks: CallbackSettings; acceptJob: JobAcceptor }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/exports',
    {
      config: { scope: 'exports:write' },
      // The body is checked in the handler, so that the 400 says the problem in the export's own
      // words and lists every one in `errors` (not the generic 'Invalid field' of one schema issue).
      attachValidation: true,
      preValidation: boundMappedColumns(),
      schema: {
        operationId: 'createExport',
        summary: 'Start an export of the catalog as CSV or NDJSON',
        description:
          'The file is downloaded from GET /v1/jobs/{id}/result once the job has completed. ' +
          'The options are body fields: a query parameter is a 400 naming it; no job starts.',
        body: exportRequestSchema,
        querystring: bodyOptionsOnlyQuery,
        headers: z.object({ 'idempotency-key': idempotencyKeyHeader(JOB_REPEAT) }).loose(),
        // 422: an Idempotency-Key already used with another request (API.md §3).
        response: { 202: jobAcceptedSchema, ...errorResponses(400, ...AUTH_ERRORS), ...errorSentences(422, 'VALIDATION_ERROR', idempotencyKeyReused().message) },
      },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      rejectInvalidQuery(request);
      const options = exportOptionsOf(request.body);
      // Valid once the body parsed: exportRequestSchema checks it.
      const callbackUrl = (request.body as ExportRequest).callback_url;
      requireQueue(deps.queues);
      await checkCallbackUrl(callbackUrl, deps.callbacks, accountId);
      const idempotencyKey = idempotencyKeyOf(request);
      const job = await deps.acceptJob({
        accountId,
        type: 'export',
        options: { ...options },
        requestHash: requestHashOf(idempotencyKey, JSON.stringify(options), callbackUrl ?? ''),
        callbackUrl,
        idempotencyKey,
      });
      return sendAccepted(reply, job);
    },
  );
}
