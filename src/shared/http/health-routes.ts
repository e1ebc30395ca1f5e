import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisConnection } from '../redis-connection.js';
import { z } from 'zod';
import type { Db } from '../db/pool.js';
import { AppError } from './app-error.js';
import { errorResponses, sendError } from './error-envelope.js';
import { readinessChecksSchema } from './readiness-checks.js';

const CHECK_TIMEOUT_MS = 2_000;

type CheckState = 'ok' | 'unavailable';

async function check(probe: () => Promise<unknown>): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([probe(), timeout]);
    return result === false ? 'unavailable' : 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthDeps {
  db: Db;
  redis: RedisConnection;
  /** In a process that runs workers: true while their blocking Redis connections are up and none is stuck (the watchdog's). */
  workersAlive?: (() => Promise<boolean>) | undefined;
  /** In an API process: true from the start of its shutdown (its drain), so that balancers stop sending to it. */
  shuttingDown?: () => boolean;
}

const readySchema = z.object({ status: z.literal('ready'), checks: readinessChecksSchema });

/**
 * GET /healthz (the process runs) and GET /readyz (API.md §5): PostgreSQL and Redis answer and,
 * in a process that runs workers, their blocking connections (the ones that wait for jobs) are up,
 * and none of its workers was found stuck (see worker-watchdog.ts).
 */
export function healthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    '/healthz',
    { schema: { summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  routes.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness',
        description:
          'PostgreSQL and Redis answer and, where this process runs workers, their blocking Redis connections are up and ' +
          'none of them has stopped taking jobs while jobs wait (such a worker is replaced; readiness returns once it takes one). ' +
          'An API process that is shutting down answers 503 from its first moment on (SHUTDOWN_DRAIN_MS), while it still serves requests.',
        response: { 200: readySchema, ...errorResponses(503) },
      },
    },
    async (_request, reply) => {
      const workersAlive = deps.workersAlive;
      const [postgres, redis, workers] = await Promise.all([
        check(() => deps.db.query('SELECT 1')),
        check(() => deps.redis.ping()),
        workersAlive ? check(workersAlive) : Promise.resolve(undefined),
      ]);
      const checks = { postgres, redis, ...(workers ? { workers } : {}) };
      const down = Object.entries(checks).filter(([, state]) => state !== 'ok').map(([name]) => name);
      const stopping = deps.shuttingDown?.() === true;
      if (down.length === 0 && !stopping) return { status: 'ready' as const, checks };
      const what = down.map((name) => (name === 'workers' ? 'the workers (their Redis connection down, or one stuck)' : `${name} unreachable`));
      if (stopping) what.unshift('the server is shutting down');
      return sendError(
        reply,
        new AppError(503, 'SERVICE_UNAVAILABLE', `Not ready: ${what.join(' and ')}.`, { checks, retry_after_seconds: 5 }),
      );
    },
  );
}
