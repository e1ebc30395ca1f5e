import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { ErrorCode, type Job, type Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, invalidApiKey } from './errors.js';
import { JOB_TYPES } from '../shared/jobs/job-row.js';
import type { JobQueues } from '../shared/queues.js';
import { sendError } from '../shared/http/error-envelope.js';
import type { CredentialAttempts } from '../shared/http/credential-attempts.js';
import { credentialDigest, sameDigest } from '../shared/accounts/api-keys.js';

/** Where the queue dashboard is served (API.md §2). */
export const DASHBOARD_PATH = '/admin/queues';

/** The dashboard's 401 without ADMIN_API_KEY, and without a password: what its browser shows. */
export const dashboardClosed = () =>
  new AppError(401, 'AUTHENTICATION_REQUIRED', 'Missing API key: the queue dashboard needs ADMIN_API_KEY to be set.');
export const dashboardSignIn = () =>
  new AppError(401, 'AUTHENTICATION_REQUIRED', 'Missing API key: sign in with any user name and the operator key as password.');

/** Bull Board's route behind a queue's Retry all, and how many jobs it reads at a time. */
const RETRY_ALL_ROUTE = '/api/queues/:queueName/retry/:queueStatus';
const RETRY_PAGE_SIZE = 100;

type RetryState = 'completed' | 'failed';

/** Retries job `id` of any account; null when its row still says `processing`. */
export type OperatorJobRetry = (id: string) => Promise<unknown>;

/**
 * The dashboard's retry of one BullMQ job. BullMQ's own retry would only deliver the job again,
 * and a delivery of a job whose row has ended does nothing (that is what keeps stale and duplicate
 * deliveries harmless). So an ended row is retried like POST /v1/jobs/{id}/retry: reset, and
 * queued again as a fresh BullMQ job. Only while the row still says `processing` (its failure
 * could not be recorded) is BullMQ's retry used, since that delivery runs it. A refusal is the
 * API's AppError.
 */
async function retryJobRow(retryRow: OperatorJobRetry, job: Job, nativeRetry: Job['retry'], state?: RetryState): Promise<void> {
  const jobId = (job.data as { jobId?: unknown } | undefined)?.jobId;
  if (typeof jobId !== 'string') return nativeRetry(state);
  if (!(await retryRow(jobId))) await nativeRetry(state);
}

/** What Retry all answers: jobs run again, and jobs refused (they stay as they are). */
interface RetryAllSummary {
  retried: number;
  skipped: number;
}

/** Bull Board's adapter of one queue whose jobs retry their job rows ({@link retryJobRow}). */
class JobRowQueueAdapter extends BullMQAdapter {
  constructor(
    queue: ConstructorParameters<typeof BullMQAdapter>[0],
    private readonly retryRow: OperatorJobRetry,
  ) {
    super(queue);
  }

  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    return job && this.retryingRow(job);
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    return (await super.getJobs(...args)).map((job) => this.retryingRow(job));
  }

  /**
   * Retry all of the jobs in `state`: a job POST /v1/jobs/{id}/retry would refuse (a completed
   * job, an import whose upload is gone) is skipped and stays where it is; the others run again
   * once. Retried jobs leave the set and skipped ones stay, so a page is read again until it holds
   * only jobs already handled, then the next one. A job that fails again meanwhile comes back
   * under an id already handled; the count taken first bounds the work.
   */
  async retryAll(state: RetryState): Promise<RetryAllSummary> {
    const total = (await this.getJobCounts())[state] ?? 0;
    const seen = new Set<string>();
    const summary: RetryAllSummary = { retried: 0, skipped: 0 };
    let offset = 0;
    while (seen.size < total) {
      const page = await super.getJobs([state], offset, offset + RETRY_PAGE_SIZE - 1);
      if (page.length === 0) break;
      const fresh = page.filter((job) => job.id !== undefined && !seen.has(job.id)).slice(0, total - seen.size);
      if (fresh.length === 0) {
        offset += page.length;
        continue;
      }
      fresh.forEach((job) => seen.add(job.id!));
      const outcomes = await Promise.allSettled(fresh.map((job) => retryJobRow(this.retryRow, job, job.retry.bind(job), state)));
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') summary.retried += 1;
        else if (isRefusal(outcome.reason)) summary.skipped += 1;
        // Anything else (Redis or PostgreSQL gone) fails the request once this page has settled.
        else throw outcome.reason;
      }
    }
    return summary;
  }

  // Bull Board's retry of one job calls `retry` on the job it got here, and a refusal (an AppError)
  // answers its status and code. Listed jobs get it too, so no path of Bull Board's can retry a
  // job without its row.
  private retryingRow(job: Job): Job {
    const nativeRetry = job.retry.bind(job);
    Object.defineProperty(job, 'retry', {
      value: (state?: RetryState) => retryJobRow(this.retryRow, job, nativeRetry, state),
      enumerable: false,
      configurable: true,
    });
    return job;
  }
}

/** The API refusing to retry one job (409 still running, 422 completed or upload gone, 404 row gone). */
function isRefusal(error: unknown): boolean {
  return error instanceof AppError && error.status < 500;
}

/**
 * The codes of BullMQ's refusals of an action the job's state does not allow (its
 * `finishedErrors`): the job is not in the state the action needs (promote of a completed job),
 * is gone, waits for its children, or belongs to a job scheduler.
 */
const JOB_STATE_REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.JobNotExist,
  ErrorCode.JobNotInState,
  ErrorCode.JobPendingChildren,
  ErrorCode.JobBelongsToJobScheduler,
]);

/**
 * BullMQ's refusal of a dashboard action as the 422 a refused Retry answers, with BullMQ's own
 * sentence ("Job 7 is not in the delayed state. promote"), which names only the job and the
 * action; undefined for any other error. BullMQ marks these with a numeric `code`.
 */
function jobStateRefusal(error: unknown): AppError | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (!(error instanceof Error) || typeof code !== 'number' || !JOB_STATE_REFUSALS.has(code)) return undefined;
  return new AppError(422, 'VALIDATION_ERROR', error.message);
}

type BullBoardRoutes = Parameters<FastifyAdapter['setApiRoutes']>[0];

/**
 * Bull Board's server adapter, with Retry all of a job-row queue answered by
 * {@link JobRowQueueAdapter.retryAll}. Bull Board's own retries a page with Promise.all, so one
 * refused job would fail the request after the others of its page had run, and stop later pages.
 */
class JobRowDashboardAdapter extends FastifyAdapter {
  /**
   * Bull Board's own error handler answers `{"error":{"key":…},"message":…}` with whatever the
   * error says (a Redis client's words, a path) and logs nothing. This one hands every error on to
   * the service's error handler instead (an error handler that throws passes its error to the
   * enclosing scope's): the envelope of API.md §1, 503 SERVICE_UNAVAILABLE with Retry-After while
   * Redis is unreachable, a refusal with its own status and code (BullMQ's refusals of an action
   * the job's state does not allow: 422, {@link jobStateRefusal}), anything else 500
   * INTERNAL_ERROR, each logged under the request id (a refusal at info, a failure at error).
   */
  override setErrorHandler(): this {
    return super.setErrorHandler((error) => {
      throw jobStateRefusal(error) ?? error;
    });
  }

  override setApiRoutes(routes: BullBoardRoutes): FastifyAdapter {
    return super.setApiRoutes(
      routes.map((route) => (route.route === RETRY_ALL_ROUTE ? { ...route, handler: retryAllHandler(route.handler) } : route)),
    );
  }
}

/** The handler of Bull Board's Retry all route: job-row queues retry through their rows, others as before. */
function retryAllHandler(bullBoardRetryAll: BullBoardRoutes[number]['handler']): BullBoardRoutes[number]['handler'] {
  return async (request) => {
    // Typed through @bull-board/fastify's own copy of Bull Board's types, which do not meet ours.
    const queue: unknown = request?.queues.get(String(request.params.queueName));
    const state: unknown = request?.params.queueStatus;
    // Other queues (read-only ones) and states keep Bull Board's answer; job-row queues are never
    // hidden or read-only, the checks Bull Board would make first.
    if (!(queue instanceof JobRowQueueAdapter) || (state !== 'failed' && state !== 'completed')) return bullBoardRetryAll(request);
    return { status: 200, body: await queue.retryAll(state) };
  };
}

/** The password of an HTTP Basic `Authorization` header (any user name), or null. */
function basicPassword(request: FastifyRequest): string | null {
  const match = /^Basic\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

function challenge(reply: FastifyReply, error: AppError): FastifyReply {
  reply.header('www-authenticate', 'Basic realm="catalog queues", charset="UTF-8"');
  return sendError(reply, error);
}

/**
 * Checks a dashboard password on the same per-address counter as an API key, so the operator key
 * cannot be guessed faster here than on the API: past the limit, 429 before the password is
 * compared, the right one included (without a challenge, so a browser does not ask again at once);
 * a wrong one counts. Answered here, so that a 401 carries its challenge and a 429 does not.
 */
async function checkPassword(
  request: FastifyRequest,
  reply: FastifyReply,
  password: string,
  adminDigest: string,
  attempts: CredentialAttempts,
): Promise<FastifyReply | undefined> {
  const digest = credentialDigest(password);
  try {
    const admission = attempts.admit(request.ip, digest);
    if (admission) await admission;
    if (sameDigest(digest, adminDigest)) {
      attempts.passed(request.ip, digest);
      return undefined;
    }
    await attempts.failed(request.ip, digest);
  } catch (error) {
    if (error instanceof AppError) return sendError(reply, error);
    throw error;
  }
  return challenge(reply, invalidApiKey());
}

/**
 * Bull Board at /admin/queues for every job queue, behind HTTP Basic auth: any user name, the
 * operator key (ADMIN_API_KEY) as password. A 401 carries `WWW-Authenticate`, so a browser asks
 * for the credentials; without ADMIN_API_KEY the dashboard is closed. Passwords are limited per
 * address like API keys ({@link checkPassword}). Its routes stay out of the OpenAPI document. Its
 * retry runs the job row again through `retryJob`, the path of POST /v1/jobs/{id}/retry.
 */
export async function registerDashboard(
  app: FastifyInstance,
  deps: {
    queues: JobQueues;
    /** The export schedules' tick queue, shown read-only: a tick's result says what it started or why it skipped. */
    scheduleTicks: Queue;
    adminApiKey?: string | undefined;
    retryJob: OperatorJobRetry;
    attempts: CredentialAttempts;
  },
): Promise<void> {
  const adminDigest = deps.adminApiKey ? credentialDigest(deps.adminApiKey) : null;
  const serverAdapter = new JobRowDashboardAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [
      ...JOB_TYPES.map((type) => new JobRowQueueAdapter(deps.queues.queue(type), deps.retryJob)),
      new BullMQAdapter(deps.scheduleTicks, { readOnlyMode: true, description: 'Export schedule ticks: the job each started, or why it was skipped' }),
    ],
    // @bull-board/fastify ships its own copy of @bull-board/api's types; the runtime contract is the same.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'Catalog jobs' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, hide: true };
    });
    scope.addHook('onRequest', async (request, reply) => {
      const password = basicPassword(request);
      if (!adminDigest) {
        return challenge(reply, dashboardClosed());
      }
      if (password === null) {
        return challenge(reply, dashboardSignIn());
      }
      return checkPassword(request, reply, password, adminDigest, deps.attempts);
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  });
}
