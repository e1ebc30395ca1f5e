import type { FastifyAdapter } from '@bull-board/fastify';
import { AppError } from './errors.js';
import { JobRowQueueAdapter, type PendingState } from './dashboard-queue-adapter.js';

type BullBoardRoutes = Parameters<FastifyAdapter['setApiRoutes']>[0];
type BullBoardHandler = BullBoardRoutes[number]['handler'];
type BullBoardRequest = NonNullable<Parameters<BullBoardHandler>[0]>;
type BullBoardAnswer = { status: number; body: unknown };

/** What a job-row queue answers to one of Bull Board's actions; undefined leaves it to Bull Board. */
type JobRowAction = (queue: JobRowQueueAdapter, request: BullBoardRequest) => Promise<BullBoardAnswer | undefined>;

/** An action a job-row queue does not take: 422, saying why and what to do instead. */
const refused = (reason: string): JobRowAction => () => Promise.reject(new AppError(422, 'VALIDATION_ERROR', reason));

/** The states whose jobs have not run to their end, as Bull Board names them in a Clean's URL. */
const PENDING_STATES: Record<string, PendingState> = {
  waiting: 'waiting',
  wait: 'waiting',
  paused: 'waiting',
  prioritized: 'prioritized',
  delayed: 'delayed',
  active: 'active',
};

/** Why a queue-wide cap is turned off, and what caps the jobs instead. */
const OWN_CAPS =
  'set WORKER_CONCURRENCY per worker process and MAX_JOBS_PER_ACCOUNT per account (jobs held back beside free workers look like stuck workers to their watchdog).';

/** The reasons of the dashboard's refusals on the job-row queues. */
const REFUSALS = {
  add: 'Jobs are started through the API (POST /v1/imports, /v1/exports, /v1/enrichments): a job added here would have no job row and would run nothing.',
  updateData:
    "A job's data is the id and run of its job row and cannot be edited here: cancel the job, or retry it, as POST /v1/jobs/{id}/cancel and /retry do.",
  obliterate:
    "Obliterate is turned off for the job queues: it would drop jobs whose rows still say processing, which the workers queue again. Use Empty (it cancels the queue's waiting jobs) instead.",
  concurrency: `A queue-wide concurrency is turned off here: ${OWN_CAPS}`,
  rateLimit: `A queue-wide rate limit is turned off here: ${OWN_CAPS}`,
};

/**
 * Bull Board's actions that a job-row queue answers its own way, by `<method> <route>`: those
 * that would retry or remove a job without its row (its row says what the job is: a BullMQ job
 * removed while its row says `processing` is queued again by the reconciler and runs), and those
 * that would make BullMQ jobs the rows do not know of, or hold the queue's jobs back in a way the
 * workers take for a fault. Every other action (promote, a job's delay or priority) is Bull
 * Board's; its pause and resume go through the adapter, which records them (JobRowQueueAdapter.pause).
 */
const JOB_ROW_ACTIONS: Record<string, JobRowAction> = {
  // Bull Board's own retries a page with Promise.all, so one refused job would fail the request
  // after the others of its page had run, and stop later pages.
  'put /api/queues/:queueName/retry/:queueStatus': async (queue, request) => {
    const state = request.params.queueStatus;
    if (state !== 'failed' && state !== 'completed') return undefined;
    return { status: 200, body: await queue.retryAll(state) };
  },
  // Clean of completed or failed jobs removes records of ended rows: Bull Board's.
  'put /api/queues/:queueName/clean/:queueStatus': async (queue, request) => {
    const state = PENDING_STATES[String(request.params.queueStatus)];
    return state && { status: 200, body: await queue.removeAll([state]) };
  },
  // BullMQ's drain leaves delayed jobs; here a delayed job is one waiting its turn (its account's
  // slot, a suspension, a back-off), so Empty cancels those too.
  'put /api/queues/:queueName/empty': async (queue) => ({ status: 200, body: await queue.removeAll(['waiting', 'prioritized', 'delayed']) }),
  'put /api/queues/:queueName/obliterate': refused(REFUSALS.obliterate),
  'post /api/queues/:queueName/add': refused(REFUSALS.add),
  'patch /api/queues/:queueName/:jobId/update-data': refused(REFUSALS.updateData),
  'put /api/queues/:queueName/concurrency': refused(REFUSALS.concurrency),
  'put /api/queues/:queueName/rate-limit': refused(REFUSALS.rateLimit),
};

/**
 * Pause all and Resume all, done first on each job-row queue, then by Bull Board. Bull Board's
 * pauses only the queues Redis says are running, and resumes only those it says are paused. So
 * Pause all pauses every job-row queue itself (recorded and marked, see JobRowQueueAdapter.pause),
 * a queue already paused in Redis too (Bull Board then leaves them); and Resume all clears every
 * record and marker, even of a queue that Redis says is not paused (after Redis lost its pause),
 * or the reconciler would pause it again.
 */
const ALL_QUEUE_ACTIONS: Record<string, (queue: JobRowQueueAdapter) => Promise<void>> = {
  'put /api/queues/pause': (queue) => queue.pause(),
  'put /api/queues/resume': (queue) => queue.clearPause(),
};

/** `route` with `action` done on every job-row queue before Bull Board's handler. */
function onEveryJobRowQueue(route: BullBoardRoutes[number], action: (queue: JobRowQueueAdapter) => Promise<void>): BullBoardRoutes[number] {
  const handler: BullBoardHandler = async (request) => {
    const queues: unknown[] = [...(request?.queues.values() ?? [])];
    for (const queue of queues) if (queue instanceof JobRowQueueAdapter) await action(queue);
    return route.handler(request);
  };
  return { ...route, handler };
}

/**
 * Bull Board's API routes with the actions of job-row queues answered by {@link JOB_ROW_ACTIONS},
 * and {@link ALL_QUEUE_ACTIONS} recorded on them.
 */
export function withJobRowActions(routes: BullBoardRoutes): BullBoardRoutes {
  return routes.map((route) => {
    const key = `${String(route.method)} ${String(route.route)}`;
    const allQueues = ALL_QUEUE_ACTIONS[key];
    if (allQueues) return onEveryJobRowQueue(route, allQueues);
    const action = JOB_ROW_ACTIONS[key];
    if (!action) return route;
    const handler: BullBoardHandler = async (request) => {
      // Typed through @bull-board/fastify's own copy of Bull Board's types, which do not meet ours.
      const queue: unknown = request?.queues.get(String(request.params.queueName));
      // Other queues (read-only ones) keep Bull Board's answer; job-row queues are never hidden
      // or read-only, the checks Bull Board would make first.
      const answer = request && queue instanceof JobRowQueueAdapter ? await action(queue, request) : undefined;
      return (answer ?? route.handler(request)) as ReturnType<BullBoardHandler>;
    };
    return { ...route, handler };
  });
}
