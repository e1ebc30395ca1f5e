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

/** How long the key Redis's check writes lives. */
const WRITE_PROBE_TTL_MS = 60_000;

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

/**
 * Redis answers and takes a write: a Redis that reached `maxmemory` under `noeviction` still
 * answers PING but refuses every write (`OOM command not allowed…`), and with it every request
 * that counts a limit or queues a job. `out-of-memory` names that case; `key` is the short-lived
 * key written, under the service's prefix.
 */
async function checkRedis(redis: RedisConnection, key: string): Promise<CheckState | 'out-of-memory'> {
  let outOfMemory = false;
  const state = await check(() =>
    redis.set(key, '1', 'PX', WRITE_PROBE_TTL_MS).catch((error: unknown) => {
      outOfMemory = error instanceof Error && error.message.startsWith('OOM');
      throw error;
    }),
  );
  return outOfMemory ? 'out-of-memory' : state;
}

export interface HealthDeps {
  db: Db;
  redis: RedisConnection;
  /** The service's Redis key prefix (queuePrefix): readiness writes `<prefix>:readyz` to see that Redis takes writes. */
  redisPrefix: string;
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
    { schema: { operationId: 'getLiveness', security: [], summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  routes.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        security: [],
        summary: 'Readiness',
        description:
          'PostgreSQL and Redis answer, Redis takes a write (a Redis out of memory that refuses writes is not ready), and, where this process runs workers, their blocking Redis connections are up and ' +
          'none of them has stopped taking jobs while jobs wait (such a worker is replaced; readiness returns once it takes one). ' +
          'An API process that is shutting down answers 503 from its first moment on (SHUTDOWN_DRAIN_MS), while it still serves requests.',
        response: { 200: readySchema, ...errorResponses(503) },
      },
    },
    async (_request, reply) => {
      const workersAlive = deps.workersAlive;
      const [postgres, redisState, workers] = await Promise.all([
        check(() => deps.db.query('SELECT 1')),
        checkRedis(deps.redis, `${deps.redisPrefix}:readyz`),
        workersAlive ? check(workersAlive) : Promise.resolve(undefined),
      ]);
      const redis: CheckState = redisState === 'ok' ? 'ok' : 'unavailable';
      const checks = { postgres, redis, ...(workers ? { workers } : {}) };
      const down = Object.entries(checks).filter(([, state]) => state !== 'ok').map(([name]) => name);
      const stopping = deps.shuttingDown?.() === true;
      if (down.length === 0 && !stopping) return { status: 'ready' as const, checks };
      const what = down.map((name) => {
        if (name === 'workers') return 'the workers (their Redis connection down, or one stuck)';
        return name === 'redis' && redisState === 'out-of-memory' ? 'redis out of memory (it refuses every write)' : `${name} unreachable`;
      });
      if (stopping) what.unshift('the server is shutting down');
      return sendError(
        reply,
        new AppError(503, 'SERVICE_UNAVAILABLE', `Not ready: ${what.join(' and ')}.`, { checks, retry_after_seconds: 5 }),
      );
    },
  );
}
