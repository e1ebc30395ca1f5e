import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { ErrorCode, type Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, internalError, invalidApiKey, jobNotFound, notFound } from './errors.js';
import { JOB_TYPES } from '../shared/jobs/job-row.js';
import type { JobQueues } from '../shared/queues.js';
import { sendError } from '../shared/http/error-envelope.js';
import type { CredentialAttempts } from '../shared/http/credential-attempts.js';
import { credentialDigest, sameDigest } from '../shared/accounts/api-keys.js';
import { withJobRowActions } from './dashboard-actions.js';
import { JobRowQueueAdapter, type OperatorJobCancel, type OperatorJobRetry, type QueuePauseRecord } from './dashboard-queue-adapter.js';

/** Where the queue dashboard is served (API.md §2). */
export const DASHBOARD_PATH = '/admin/queues';

/** The dashboard's 401 without ADMIN_API_KEY, and without a password: what its browser shows. */
export const dashboardClosed = () =>
  new AppError(401, 'AUTHENTICATION_REQUIRED', 'Missing API key: the queue dashboard needs ADMIN_API_KEY to be set.');
export const dashboardSignIn = () =>
  new AppError(401, 'AUTHENTICATION_REQUIRED', 'Missing API key: sign in with any user name and the operator key as password.');

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
 * Bull Board's refusals that its handlers answer as values (`{status, body: {error: {key}}}`)
 * rather than throw, by their key, as the service's errors: a job or queue the URL names that is
 * not there, an action on a read-only queue (the export schedules' ticks).
 */
const BULL_BOARD_REFUSALS: Record<string, () => AppError> = {
  'ERRORS.JOB_NOT_FOUND': jobNotFound,
  'ERRORS.QUEUE_NOT_FOUND': () => notFound('Queue not found.'),
  'ERRORS.QUEUE_READ_ONLY': () => new AppError(422, 'VALIDATION_ERROR', 'This queue is read-only in the dashboard.'),
};

/** The error of a Bull Board answer of 400 or more: one of {@link BULL_BOARD_REFUSALS}, else its status with its key. */
function bullBoardRefusal(answer: { status?: number; body?: unknown }): AppError | undefined {
  const status = answer.status ?? 200;
  if (status < 400) return undefined;
  const key = (answer.body as { error?: { key?: unknown } } | undefined)?.error?.key;
  const known = typeof key === 'string' ? BULL_BOARD_REFUSALS[key] : undefined;
  if (known) return known();
  if (status >= 500) return internalError();
  return new AppError(status, status === 404 ? 'NOT_FOUND' : 'VALIDATION_ERROR', `The dashboard refused the action (${String(key ?? status)}).`);
}

/** `routes` whose refusals answered as values are thrown as errors instead, for the error handler's envelope. */
function withEnvelopedRefusals(routes: BullBoardRoutes): BullBoardRoutes {
  return routes.map((route) => ({
    ...route,
    handler: async (request) => {
      const answer = await route.handler(request);
      const refusal = bullBoardRefusal(answer);
      if (refusal) throw refusal;
      return answer;
    },
  }));
}

/**
 * Bull Board's server adapter, with the actions of job-row queues that would touch jobs without
 * their rows answered through the rows, or refused ({@link withJobRowActions}).
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
    return super.setApiRoutes(withEnvelopedRefusals(withJobRowActions(routes)));
  }
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
 * retry runs the job row again through `retryJob`, the path of POST /v1/jobs/{id}/retry; its
 * removal of a job whose row is processing cancels it through `cancelJob`, the path of POST
 * /v1/jobs/{id}/cancel; its Pause and Resume are kept in `pauses` too, for the reconciler.
 */
export async function registerDashboard(
  app: FastifyInstance,
  deps: {
    queues: JobQueues;
    /** The export schedules' tick queue, shown read-only: a tick's result says what it started or why it skipped. */
    scheduleTicks: Queue;
    adminApiKey?: string | undefined;
    retryJob: OperatorJobRetry;
    /** Cancels a job whose row is processing, for the dashboard's Remove, Clean and Empty. */
    cancelJob: OperatorJobCancel;
    /** Keeps the dashboard's pauses where a loss of Redis's data does not take them. */
    pauses: QueuePauseRecord;
    attempts: CredentialAttempts;
  },
): Promise<void> {
  const adminDigest = deps.adminApiKey ? credentialDigest(deps.adminApiKey) : null;
  const serverAdapter = new JobRowDashboardAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [
      ...JOB_TYPES.map((type) => new JobRowQueueAdapter(deps.queues.queue(type), { retryRow: deps.retryJob, cancelRow: deps.cancelJob, pauses: deps.pauses })),
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
