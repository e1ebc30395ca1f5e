import type { Worker } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { RedisConnection } from '../shared/redis-connection.js';
import type { Logger } from 'pino';
import { registerErrorHandling } from '../shared/http/error-handler.js';
import { healthRoutes } from '../shared/http/health-routes.js';
import { metricsRoute } from '../shared/http/metrics-route.js';
import type { Db } from '../shared/db/pool.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { RunningWorkers } from './start-workers.js';

/**
 * True while every worker runs and its blocking connection (the one that waits for jobs with
 * BZPOPMIN) is up. ioredis reconnects it by itself after Redis comes back. A Worker whose loop
 * stopped can still pass this: the watchdog of {@link RunningWorkers.alive} finds that one.
 */
export async function blockingConnectionsAlive(workers: Worker[]): Promise<boolean> {
  for (const worker of workers) {
    if (!worker.isRunning()) return false;
    const client = await worker.getBackend().blockingClient;
    if ((client as { status?: string } | undefined)?.status !== 'ready') return false;
  }
  return true;
}

export interface WorkerListenerDeps {
  db: Db;
  /** The workers' own Redis connection. */
  redis: RedisConnection;
  /** The service's Redis key prefix (queuePrefix), under which readiness writes its key. */
  redisPrefix: string;
  workers: Pick<RunningWorkers, 'alive'>;
  metrics: ServiceMetrics;
  metricsToken?: string | undefined;
  logger: Logger;
}

/**
 * The small HTTP listener of a ROLE=worker process (WORKER_PORT): /healthz, /readyz (PostgreSQL,
 * Redis, the workers' blocking connections, and no Worker found taking no jobs) and /metrics with this process's job counters.
 * Not listening yet; the caller listens and closes.
 */
export function buildWorkerListener(deps: WorkerListenerDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app, 0);
  healthRoutes(app, { db: deps.db, redis: deps.redis, redisPrefix: deps.redisPrefix, workersAlive: () => deps.workers.alive() });
  metricsRoute(app, { metrics: deps.metrics, token: deps.metricsToken });
  return app;
}
