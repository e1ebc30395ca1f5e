import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisConnection } from '../../shared/redis-connection.js';
import { z } from 'zod';
import type { Scope } from '../../shared/accounts/api-keys.js';
import type { Db } from '../../shared/db/pool.js';
import { permissionDenied } from '../errors.js';
import { jobOr404, jobResourceFor } from '../job-lookup.js';
import { assertRetryable, assertUploadStored, repeatedRetry, requeueEndedJob, RETRY_REPEAT } from '../job-retry.js';
import type { UploadRetention } from '../lost-upload.js';
import { cancelJobRow } from '../../shared/jobs/job-control-queries.js';
import { findJob, findJobOfAnyAccount } from '../../shared/jobs/job-queries.js';
import type { JobRow, JobType } from '../../shared/jobs/job-row.js';
import type { JobQueues } from '../../shared/queues.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import type { JobCache } from '../job-cache.js';
import { idempotencyKeyHeader, idempotencyKeyOf, requireQueue, sendAccepted } from '../job-acceptance.js';
import { RetryKeyTaken } from '../../shared/jobs/retry-keys.js';
import { AUTH_ERRORS, errorCodes, errorResponses, jobAcceptedSchema, jobResourceSchema } from '../schemas.js';
import { noQuery } from '../strict-query.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';


/** The scope that starts (and so controls) a job of each type (API.md §4). */
const WRITE_SCOPES: Record<JobType, Scope> = {
  import: 'imports:write',
  export: 'exports:write',
  enrichment: 'enrichments:write',
};

export interface JobControlDeps {
  db: Db;
  queues: JobQueues;
  /** Publishes on the cancel channel (the producer connection). */
  redis: RedisConnection;
  /** The channel every worker process listens on for cancelled job ids. */
  cancelChannel: string;
  /** This process's polled jobs: a job changed here is dropped from it at once. */
  jobCache: JobCache;
  /** Where imports' uploads are: a retry of one whose upload is missing is refused. */
  uploads: FileStore;
  uploadRetention: UploadRetention;
}

/**
 * The job `id` the caller may control: its own account's job with the job type's write scope, or
 * any account's job for the operator key. 404 for a malformed id or another account's job.
 */
async function controlledJob(db: Db, request: FastifyRequest, id: string): Promise<JobRow> {
  const principal = request.principal;
  const job = await jobOr404(id, (jobId) =>
    principal?.kind === 'account' ? findJob(db, principal.accountId, jobId) : findJobOfAnyAccount(db, jobId),
  );
  if (principal?.kind === 'account') {
    const scope = WRITE_SCOPES[job.type];
    if (!principal.scopes.has(scope) && !principal.scopes.has('admin')) throw permissionDenied(scope);
  }
  return job;
}

/** Checks and runs a retry: the route's and the dashboard's (refuses early while Redis is down). */
async function retryJob(deps: JobControlDeps, job: JobRow, log: FastifyBaseLogger, idempotencyKey?: string): Promise<JobRow> {
  assertRetryable(job);
  requireQueue(deps.queues);
  await assertUploadStored(deps, job, log);
  try {
    return await requeueEndedJob(deps, job, idempotencyKey);
  } finally {
    deps.jobCache.forget(job.id);
  }
}

/**
 * The queue dashboard's retry of job `id` of any account: the same path as POST
 * /v1/jobs/{id}/retry. Null while the row is still `processing` (BullMQ's own retry runs it then).
 */
export async function retryJobForOperator(deps: JobControlDeps, id: string, log: FastifyBaseLogger): Promise<JobRow | null> {
  const job = await jobOr404(id, (jobId) => findJobOfAnyAccount(deps.db, jobId));
  if (job.status === 'processing') return null;
  return retryJob(deps, job, log.child({ via: 'queue dashboard' }));
}

/**
 * The queue dashboard's removal of job `id` of any account: while its row is `processing`, the
 * same path as POST /v1/jobs/{id}/cancel, and true. False, doing nothing, for an id of no row or
 * a row that has ended (the dashboard then removes the BullMQ job alone).
 */
export async function cancelJobForOperator(deps: JobControlDeps, id: string, log: FastifyBaseLogger): Promise<boolean> {
  const job = UUID.test(id) ? await findJobOfAnyAccount(deps.db, id) : null;
  if (job?.status !== 'processing') return false;
  await cancelJob(deps, job, log.child({ via: 'queue dashboard' }));
  return true;
}

/**
 * How many runs one cancel ends: each run after the first was started by a retry that came
 * between this cancel finding the job ended and reading it again.
 */
const CANCELLED_RUNS_AT_MOST = 5;

/**
 * Ends a `processing` job as `cancelled` and stops its run. When the job is no longer processing
 * by the time the cancel writes (another cancel or the run itself ended it first), the job is
 * read again and returned as it is; but if a concurrent retry has started its next run meanwhile,
 * that run is cancelled too, as if this cancel had come after the retry. A 200 to a cancel tells
 * the client the job will not go on running, so it never answers with a run it left running.
 */
async function cancelJob(deps: JobControlDeps, job: JobRow, log: FastifyBaseLogger): Promise<JobRow> {
  for (let run = 1; ; run += 1) {
    // PostgreSQL first: from here on no attempt can commit, whatever Redis does.
    const cancelled = await cancelJobRow(deps.db, job.id);
    deps.jobCache.forget(job.id);
    if (cancelled) {
      await stopCancelledRun(deps, cancelled, log);
      return cancelled;
    }
    const current = await findJobOfAnyAccount(deps.db, job.id);
    if (!current) return job;
    // Past the bound a client is retrying and cancelling the job in a loop: it gets the job as it is.
    if (current.status !== 'processing' || run === CANCELLED_RUNS_AT_MOST) return current;
  }
}

/**
 * A waiting or delayed job is removed so it never starts; a running one is aborted by the worker
 * process that runs it. Both are best effort: a delivery of an ended job does nothing.
 */
async function stopCancelledRun(deps: JobControlDeps, job: JobRow, log: FastifyBaseLogger): Promise<void> {
  log.info({ jobId: job.id, type: job.type }, 'job cancelled');
  await deps.queues
    .queue(job.type)
    .remove(job.id)
    .catch((error: unknown) => log.warn({ err: error, jobId: job.id }, 'could not remove the cancelled job from its queue'));
  await deps.redis
    .publish(deps.cancelChannel, job.id)
    .catch((error: unknown) => log.warn({ err: error, jobId: job.id }, 'could not tell the workers about a cancel'));
}

/** POST /v1/jobs/{id}/cancel and POST /v1/jobs/{id}/retry (API.md §4). */
export function jobControlRoutes(app: FastifyInstance, deps: JobControlDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  // Any key of the account may address the job; the job type's write scope is checked per job.
  const config = {
    authenticated: true,
    adminAllowed: true,
    scopeChecked: "a key with the job type's write scope, `imports:write`, `exports:write` or `enrichments:write`",
  };
  const params = z.object({ id: z.string() });

  routes.post(
    '/v1/jobs/:id/cancel',
    {
      config,
      schema: {
        operationId: 'cancelJob',
        summary: 'Cancel a job',
        description:
          'A waiting job never starts; a running one stops at its next chunk and writes nothing more; the job ends ' +
          '`cancelled` with error_code JOB_CANCELLED. A job that has already ended is returned unchanged.',
        params,
        response: { 200: jobResourceSchema, ...errorResponses(404, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const job = await controlledJob(deps.db, request, request.params.id);
      const resource = jobResourceFor(request);
      if (job.status !== 'processing') return resource(job);
      return resource(await cancelJob(deps, job, request.log));
    },
  );

  routes.post(
    '/v1/jobs/:id/retry',
    {
      config,
      schema: {
        operationId: 'retryJob',
        summary: 'Retry a failed or cancelled job',
        description:
          'The job runs again from its stored input: an import or ' +
          'export with its counts and report cleared, an enrichment from after its last settled product (or from the first ' +
          "product the provider's monthly quota left not looked up, PROVIDER_QUOTA_EXCEEDED), with the counts and report " +
          'entries of the products before kept (none is looked up again). 202 like a new job. ' +
          '409 JOB_NOT_FINISHED while the job is still processing (or ' +
          'its cancelled run is still stopping); 422 VALIDATION_ERROR for a completed job or an import whose upload ' +
          'is no longer stored (UPLOAD_RETENTION_DAYS) or is missing from storage. A query parameter is a 400 naming it; the job does not run again.',
        params,
        headers: z.object({ 'idempotency-key': idempotencyKeyHeader(RETRY_REPEAT) }).loose(),
        querystring: noQuery,
        response: { 202: jobAcceptedSchema, ...errorResponses(400, 404, 422, ...AUTH_ERRORS), ...errorCodes(409, 'JOB_NOT_FINISHED') },
      },
    },
    async (request, reply) => {
      const key = idempotencyKeyOf(request);
      const job = await controlledJob(deps.db, request, request.params.id);
      const repeat = key === undefined ? null : await repeatedRetry(deps.db, job, key);
      if (repeat) return sendAccepted(reply, repeat);
      try {
        const reset = await retryJob(deps, job, request.log, key);
        return sendAccepted(reply, reset);
      } catch (error) {
        // A repeat sent before this one's answer took the key first: answered as that repeat.
        const taken = error instanceof RetryKeyTaken && key !== undefined ? await repeatedRetry(deps.db, job, key) : null;
        if (taken) return sendAccepted(reply, taken);
        throw error;
      }
    },
  );

}
