import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JOB_TYPES, type JobType } from '../../shared/jobs/job-row.js';
import { QUEUE_NAMES, type JobQueues } from '../../shared/queues.js';
import { decodeCursor, keysetPosition, pageOf, textPart } from '../cursor.js';
import { AUTH_ERRORS, errorResponses, pageQueryFields, pageSchema } from '../schemas.js';

const count = z.number().int();

const queueStatsSchema = z
  .object({
    name: z.string(),
    job_type: z.enum(JOB_TYPES),
    waiting: count,
    active: count,
    delayed: count,
    completed: count,
    failed: count,
    paused: count.describe('jobs held by a paused queue (its waiting jobs while it is paused)'),
    is_paused: z.boolean(),
    prioritized: count,
    workers: count.describe('worker connections on this queue (each worker process has one per queue)'),
    oldest_waiting_age_seconds: z.number().nullable().describe('age of the job waiting longest; null when none waits'),
  })
  .meta({ id: 'QueueStats' });

/** Counts of one queue, its workers, and how long its oldest waiting job has waited. */
async function queueStats(queues: JobQueues, type: JobType): Promise<z.infer<typeof queueStatsSchema>> {
  const queue = queues.queue(type);
  const [counts, isPaused, workers, oldest] = await Promise.all([
    queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'),
    queue.isPaused(),
    queue.getWorkersCount(),
    // Ascending: the first waiting job is the one queued longest ago.
    queue.getJobs(['wait'], 0, 0, true),
  ]);
  const oldestAt = oldest[0]?.timestamp;
  return {
    name: QUEUE_NAMES[type],
    job_type: type,
    waiting: counts.waiting ?? 0,
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    completed: counts.completed ?? 0,
    failed: counts.failed ?? 0,
    // A paused queue keeps its jobs waiting: they are the paused ones.
    paused: isPaused ? (counts.waiting ?? 0) : 0,
    is_paused: isPaused,
    prioritized: counts.prioritized ?? 0,
    workers,
    oldest_waiting_age_seconds: oldestAt ? Math.max(0, (Date.now() - oldestAt) / 1000) : null,
  };
}

/** A page's position: the job type of its last queue, one of JOB_TYPES. */
const isQueuePosition = keysetPosition<[string]>((value): value is string => textPart(value) && (JOB_TYPES as readonly string[]).includes(value));

/** GET /v1/admin/queues (API.md §2): the state of every job queue, for operators. */
export function adminQueueRoutes(app: FastifyInstance, deps: { queues: JobQueues }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/admin/queues',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'listQueues',
        summary: 'Queue states (operators)',
        description: 'Per queue: jobs waiting, active, delayed, completed, failed, paused and prioritized; worker connections; age of the oldest waiting job.',
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(queueStatsSchema), ...errorResponses(400, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      // A list like every other (API.md): in job type order, paged by the type last sent.
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isQueuePosition)[0] : undefined;
      const types = after === undefined ? JOB_TYPES : JOB_TYPES.slice(JOB_TYPES.indexOf(after as JobType) + 1);
      const rows = await Promise.all(types.slice(0, limit + 1).map((type) => queueStats(deps.queues, type)));
      return pageOf(rows, limit, (row) => [row.job_type], (row) => row);
    },
  );
}
