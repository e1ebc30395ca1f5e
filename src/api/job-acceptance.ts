import { createHash, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Db } from '../shared/db/pool.js';
import { hasCallbackSecret } from '../shared/callbacks/callback-secret-queries.js';
import { callbackTargetProblem, type CallbackTargetPolicy } from '../shared/callbacks/callback-target.js';
import { badRequest, idempotencyKeyReused, serviceUnavailable } from './errors.js';
import { findJobByIdempotencyKey, jobInserter, type AcceptedJob } from '../shared/jobs/job-queries.js';
import type { JobRow, JobType } from '../shared/jobs/job-row.js';
import type { JobQueues } from '../shared/queues.js';
import { inlinePath } from '../shared/storage/inline-uploads.js';
import { createAcceptedJobsQueue, type AcceptedJobsQueue } from './accepted-jobs-queue.js';

/** A job a client asked for, as the API accepts it (API.md §4). */
export interface JobRequest {
  accountId: string;
  type: JobType;
  options: Record<string, unknown>;
  /**
   * A hash of everything that makes the request what it is: the same Idempotency-Key with another
   * hash is a 422 ({@link requestHashOf}); null without an Idempotency-Key, when nothing compares it.
   */
  requestHash: string | null;
  idempotencyKey?: string | undefined;
  inputPath?: string | null;
  inputBytes?: number | null;
  /** A small upload to keep with the job row instead of `inputPath` (see inline-uploads.ts). */
  inputData?: Buffer | null;
  callbackUrl?: string | undefined;
}

/** How the API checks a requested callback_url. */
export interface CallbackSettings extends CallbackTargetPolicy {
  db: Db;
  /** CALLBACK_SECRET: signs the callbacks of accounts without their own secret. */
  fallbackSecret: string | undefined;
}

/**
 * Refuses (400) a callback_url the service will not call: nothing to sign it with (the account
 * has no callback secret and the server no CALLBACK_SECRET fallback), or a target that does not
 * resolve or is private/loopback while the operator has not allowed that.
 */
export async function checkCallbackUrl(url: string | undefined, settings: CallbackSettings, accountId: string): Promise<void> {
  if (url === undefined) return;
  if (!settings.fallbackSecret && !(await hasCallbackSecret(settings.db, accountId))) {
    throw badRequest(
      "Invalid parameter 'callback_url': this account has no callback signing secret; create one with POST /v1/callback-secret (the server has no CALLBACK_SECRET fallback).",
    );
  }
  const problem = await callbackTargetProblem(url, settings);
  if (problem) throw badRequest(`Invalid parameter 'callback_url': ${problem}.`);
}

const queueDown = () =>
  serviceUnavailable('The job queue is unavailable; the request was not accepted. Try again shortly.');

/**
 * Accepts a job: writes the job row, then starts queueing the id (see {@link AcceptedJobsQueue}).
 * With an Idempotency-Key, a repeat of the same request within 24 hours returns the first job; the
 * key with another request is a 422. If the row cannot be written, `discardInput` runs and the
 * request fails: nothing half-accepted. `discardInput` also runs when an earlier job answers for
 * this request (its input is not needed).
 */
export type JobAcceptor = (request: JobRequest, discardInput?: () => Promise<void>) => Promise<AcceptedJob>;

/**
 * The API's {@link JobAcceptor}, and `drain` for its shutdown. The rows of the jobs accepted in one
 * turn of the event loop are written with one statement, and their ids queued with one round trip
 * to Redis after the rows are committed.
 */
export function createJobAcceptor(deps: { db: Db; queues: JobQueues; logger: FastifyBaseLogger }): {
  acceptJob: JobAcceptor;
  drain: () => Promise<void>;
} {
  const accepted = createAcceptedJobsQueue(deps.queues, deps.logger);
  const acceptDeps = { db: deps.db, accepted, insertJob: jobInserter(deps.db) };
  return {
    acceptJob: (request, discardInput = async () => {}) => acceptJob(acceptDeps, request, discardInput),
    drain: () => accepted.drain(),
  };
}

async function acceptJob(
  deps: { db: Db; accepted: AcceptedJobsQueue; insertJob: ReturnType<typeof jobInserter> },
  request: JobRequest,
  discardInput: () => Promise<void>,
): Promise<AcceptedJob> {
  const { accountId, idempotencyKey, requestHash } = request;
  if (idempotencyKey) {
    const earlier = await findJobByIdempotencyKey(deps.db, accountId, idempotencyKey);
    if (earlier) {
      await discardInput();
      return sameRequestOrConflict(earlier, requestHash);
    }
  }
  const id = randomUUID();
  let job: AcceptedJob;
  try {
    job = await deps.insertJob({
      id,
      accountId,
      type: request.type,
      options: request.options,
      inputPath: request.inputData ? inlinePath(id) : (request.inputPath ?? null),
      inputBytes: request.inputBytes ?? null,
      inputData: request.inputData ?? null,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      callbackUrl: request.callbackUrl ?? null,
    });
  } catch (error) {
    await discardInput();
    // A concurrent request with the same Idempotency-Key won the race: answer with its job.
    if ((error as { code?: string }).code === '23505' && idempotencyKey) {
      const winner = await findJobByIdempotencyKey(deps.db, accountId, idempotencyKey);
      if (winner) return sameRequestOrConflict(winner, requestHash);
    }
    throw error;
  }
  await deps.accepted.queue(request.type, id);
  return job;
}

/** The longest Idempotency-Key a request may carry (README, Input limits). */
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** What a repeat of a job-starting request with its Idempotency-Key answers. */
export const JOB_REPEAT = 'the job the first request started (202, the same id) instead of starting another';

/**
 * The Idempotency-Key header of a route, described for the OpenAPI document: within 24 hours a
 * repeat of the same request with the key answers `repeat`; the key with another request is a 422.
 */
export const idempotencyKeyHeader = (repeat: string) =>
  z
    .string()
    .min(1)
    .max(MAX_IDEMPOTENCY_KEY_LENGTH)
    .optional()
    .describe(
      `Makes a retry safe: within 24 hours, the same request with the same key answers with ${repeat}. ` +
        `The key with a different request is a 422 VALIDATION_ERROR (\`${idempotencyKeyReused().message}\`); keys are per account.`,
    );

/**
 * The Idempotency-Key header of a request, if it carries one that is not empty; 400 for one over
 * 255 characters. For routes that check their body in the handler (`attachValidation`), which
 * leaves a header schema's failure unanswered too.
 */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  if (typeof header !== 'string' || header === '') return undefined;
  if (header.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw badRequest(`Invalid header 'Idempotency-Key': it must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
  }
  return header;
}

/**
 * The hash of a job-starting request that a repeat of its Idempotency-Key is compared by (the same
 * key with another hash is a 422): SHA-256 over `parts`, in order. Null without a key: nothing
 * compares the request then, so nothing is hashed (an upload's own hash included).
 */
export function requestHashOf(idempotencyKey: string | undefined, ...parts: string[]): string | null {
  if (idempotencyKey === undefined) return null;
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** Refuses a job-starting request early (503) while the queue's Redis connection is down. */
export function requireQueue(queues: JobQueues): void {
  if (!queues.ready()) throw queueDown();
}

/**
 * Answers a job-starting request: 202 with `Location` and `{id, status}` (API.md §4). Logs the
 * job's id on the request's line (with its `reqId` and `accountId`), so that a request followed
 * from a proxy by its X-Request-Id leads to its job, and the job's own log lines.
 */
export function sendAccepted(reply: FastifyReply, job: AcceptedJob): FastifyReply {
  reply.log.info({ jobId: job.id }, 'job accepted');
  return reply.code(202).header('location', `/v1/jobs/${job.id}`).send({ id: job.id, status: job.status });
}

function sameRequestOrConflict(earlier: { job: JobRow; requestHash: string | null }, requestHash: string | null): JobRow {
  if (earlier.requestHash !== requestHash) {
    throw idempotencyKeyReused();
  }
  return earlier.job;
}
