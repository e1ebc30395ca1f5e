import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { rejectInvalidQuery } from '../body-validation.js';
import { badRequestBody, idempotencyKeyReused } from '../errors.js';
import { enrichmentRequestSchema, parseEnrichmentRequest, type EnrichmentOptions } from '../../shared/jobs/enrichment-options.js';
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

/** POST /v1/enrichments: write the job row, queue it, answer 202 at once (API.md §4). */
export function enrichmentRoutes(app: FastifyInstance, deps: { db: Db; queues: JobQueues; callbacks: CallbackSettings; acceptJob: JobAcceptor }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/enrichments',
    {
      config: { scope: 'enrichments:write' },
      // The body is checked in the handler, so that the 400 names each field and unknown key in
      // the enrichment's own words, as an export's does (not the generic 'Invalid field').
      attachValidation: true,
      schema: {
        operationId: 'createEnrichment',
        summary: 'Start an enrichment of the catalog',
        description:
          'Enriches the products of `eans`, or those matching `filter`; with neither (or no body), the whole catalog. ' +
          'The options are body fields: a query parameter is a 400 naming it; no job starts.',
        body: enrichmentRequestSchema.nullish(),
        querystring: bodyOptionsOnlyQuery,
        headers: z.object({ 'idempotency-key': idempotencyKeyHeader(JOB_REPEAT) }).loose(),
        // 422: an Idempotency-Key already used with another request (API.md §3).
        response: { 202: jobAcceptedSchema, ...errorResponses(400, ...AUTH_ERRORS), ...errorSentences(422, 'VALIDATION_ERROR', idempotencyKeyReused().message) },
      },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      rejectInvalidQuery(request);
      const parsed = parseEnrichmentRequest(request.body);
      if (!parsed.ok) throw badRequestBody(parsed.problems);
      const body = parsed.request;
      requireQueue(deps.queues);
      await checkCallbackUrl(body.callback_url, deps.callbacks, accountId);
      if (body.eans && body.filter) {
        throw badRequestBody([{ field: 'filter', message: 'Send either eans or filter, not both.' }]);
      }
      if (body.eans?.length === 0) {
        throw badRequestBody([{ field: 'eans', message: 'The eans list is empty: leave it out to enrich the whole catalog.' }]);
      }
      // The callback_url is kept only in the job's callback outbox, as an import's or an export's:
      // a receiver's address often carries its secret, and `options` is shown to any `jobs:read` key.
      const options: EnrichmentOptions = { eans: body.eans ?? null, filter: body.filter ?? null, overwrite: body.overwrite };
      // Hashed as when the callback_url was among the options, so an Idempotency-Key sent before
      // still matches its request, and another callback_url is still another request.
      const hashed = body.callback_url ? { ...options, callback_url: body.callback_url } : options;
      const idempotencyKey = idempotencyKeyOf(request);
      const job = await deps.acceptJob({
        accountId,
        type: 'enrichment',
        options,
        requestHash: requestHashOf(idempotencyKey, JSON.stringify(hashed)),
        idempotencyKey,
        callbackUrl: body.callback_url,
      });
      return sendAccepted(reply, job);
    },
  );
}
