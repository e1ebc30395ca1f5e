import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { RedisConnection } from './shared/redis-connection.js';
import { ConfigError, loadConfig, type Config } from './shared/config.js';
import { createMetrics } from './shared/metrics.js';
import { ensureDatabase, migrate } from './shared/db/migrate.js';
import { MigrationError } from './shared/db/migration-error.js';
import { apiSessionLimits, createPool, workerSessionLimits, type Db } from './shared/db/pool.js';
import { createLogger } from './shared/logger.js';
import {
  createJobQueues,
  createProducerConnection,
  createWorkerConnection,
  queuePrefix,
  waitUntilReady,
  type JobQueues,
} from './shared/queues.js';
import { createFileStore } from './shared/storage/create-file-store.js';
import { checkEvictionPolicy } from './shared/eviction-policy.js';
import { listening, reaching, StartupError, unusable, type BackingService } from './shared/startup-error.js';
import { lowerProcessPriority } from './workers/process-priority.js';
import type { RunningWorkers } from './workers/start-workers.js';

/**
 * The code of each role, loaded only where it runs: a worker process holds no HTTP API (Fastify's
 * plugins, the OpenAPI document, every route's schemas), and an API process no import, export or
 * enrichment pipeline. Measured here, a ROLE=worker process started with 25 MB of heap instead of
 * 32–36 MB and was ready 0.2 s sooner; an API process holds about as much as before.
 */
const apiCode = async () => ({ ...(await import('./api/build-app.js')), ...(await import('./api/api-shutdown.js')) });
const workerCode = async () => ({ ...(await import('./workers/start-workers.js')), ...(await import('./workers/worker-listener.js')) });

/** How long a pool may take to close at shutdown, once its work has ended or been given up. */
const POOL_END_WAIT_MS = 2_000;

/**
 * Closes a pool's connections; gives up after {@link POOL_END_WAIT_MS} with a warning. A job whose
 * worker did not close in time may still hold a client, which the pool would wait for without end.
 */
async function endPool(pool: Db | undefined, logger: Logger): Promise<void> {
  if (!pool) return;
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    pool.end().then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), POOL_END_WAIT_MS))),
  ]).finally(() => clearTimeout(timer));
  if (!ended) logger.warn({ waitMs: POOL_END_WAIT_MS }, 'PostgreSQL connections still in use: closing without them');
}

const postgresOf = (config: Config): BackingService => ({ name: 'PostgreSQL', variable: 'DATABASE_URL', url: config.DATABASE_URL, defaultPort: 5432 });
const redisOf = (config: Config): BackingService => ({ name: 'Redis', variable: 'REDIS_URL', url: config.REDIS_URL, defaultPort: 6379 });

/** Applies the migrations: one PostgreSQL refuses stops the start naming it; PostgreSQL failing under them is named as at its first use. */
async function migrateAtStart(db: Db, config: Config): Promise<string[]> {
  try {
    return await migrate(db);
  } catch (error) {
    if (error instanceof MigrationError) throw new StartupError(`Failed to start: ${error.message}`, { cause: error });
    throw unusable(postgresOf(config), error);
  }
}

/**
 * Waits until `connection` is ready; one that is not within 10 s stops the start naming Redis.
 * Its errors are logged from now on rather than printed by ioredis; returns the listener, for a
 * caller whose connection gets listeners of its own (BullMQ's workers) to remove it.
 */
async function readyRedis(connection: RedisConnection, config: Config, logger: Logger): Promise<(error: unknown) => void> {
  const logError = (error: unknown) => logger.warn({ err: error }, 'redis connection error');
  connection.on('error', logError);
  await reaching(redisOf(config), () => waitUntilReady(connection));
  return logError;
}

/** Starts the API, the workers or both (ROLE), after making sure the database is migrated. */
async function main(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  // A worker process yields the CPU to an API process on the same machine (WORKER_NICE).
  if (config.ROLE === 'worker' && config.WORKER_NICE > 0) {
    logger.info({ nice: config.WORKER_NICE, threads: lowerProcessPriority(config.WORKER_NICE) }, 'worker priority lowered');
  }
  await reaching(postgresOf(config), () => ensureDatabase(config.DATABASE_URL, config.DB_CONNECT_TIMEOUT_MS));
  // Two pools with their own session limits: the API's statements time out, the workers' long
  // import transactions must not. Migrations run on the workers' pool (no statement timeout).
  const db = createPool(config.DATABASE_URL, config.ROLE === 'api' ? 2 : config.WORKER_CONCURRENCY * 2 + 10, workerSessionLimits(config));
  const applied = await migrateAtStart(db, config);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  const uploads = await createFileStore(config);

  /** Closes the API after a drain of `drainMs` (see api-shutdown.ts). */
  let closeApi: ((drainMs: number) => Promise<void>) | undefined;
  let queues: JobQueues | undefined;
  let producer: RedisConnection | undefined;
  let workers: RunningWorkers | undefined;
  let workerConnection: RedisConnection | undefined;
  let workerListener: FastifyInstance | undefined;
  let apiDb: Db | undefined;
  // One registry per process: in ROLE=all the API's /metrics shows the workers' counters too.
  const metrics = createMetrics();

  const worker = config.ROLE === 'api' ? undefined : await workerCode();
  if (config.ROLE !== 'worker') {
    const api = await apiCode();
    const apiShutdown = new api.ApiShutdown();
    producer = createProducerConnection(config);
    // From the start: a ready check that times out (a Redis that hangs) is logged, not an unhandled error event.
    await readyRedis(producer, config, logger);
    // A process that runs workers checks on every reconciler pass, the first one as they start.
    if (!worker) await checkEvictionPolicy(producer, logger);
    queues = createJobQueues(producer, config, (error) => logger.warn({ err: error }, 'job queue error'));
    apiDb = createPool(config.DATABASE_URL, 10, apiSessionLimits(config));
    const app = await api.buildApp({
      config, db: apiDb, redis: producer, queues, uploads, logger, metrics, shutdown: apiShutdown,
      ...(worker ? { workersAlive: async () => (workers ? workers.alive() : false) } : {}),
    });
    await listening(app, { host: config.HOST, port: config.PORT, variable: 'PORT' });
    closeApi = (drainMs) => api.closeApi(app, apiShutdown, { drainMs, graceMs: config.SHUTDOWN_HTTP_GRACE_MS }, logger);
  }
  if (worker) {
    workerConnection = createWorkerConnection(config);
    // As the API's producer: workers started on a Redis that is not there would log their errors without end.
    const logError = await readyRedis(workerConnection, config, logger);
    // WORKER_PORT opens before the workers take a job: a port the process cannot have stops it with none under way.
    if (config.ROLE === 'worker' && config.WORKER_PORT !== undefined) {
      workerListener = worker.buildWorkerListener({
        db, redis: workerConnection, redisPrefix: queuePrefix(config), workers: { alive: async () => (workers ? workers.alive() : false) }, metrics, metricsToken: config.METRICS_TOKEN, logger,
      });
      await listening(workerListener, { host: config.HOST, port: config.WORKER_PORT, variable: 'WORKER_PORT' });
    }
    workers = worker.startWorkers({ db, uploads, logger, config, connection: workerConnection, metrics });
    // BullMQ's workers now report the connection's errors ('worker error'): one line each, not two.
    workerConnection.off('error', logError);
    logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'workers started');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: no new work; active jobs finish or go back to the queue');
    try {
      // The workers stop taking jobs now, and their grace counts from now, whatever the API still
      // serves: an open upload or download must not keep them taking work. The API drains, then
      // answers the requests under way (an upload still gets its 202) and queues what they accepted.
      // SIGINT and SIGHUP come from a terminal, where no balancer needs the drain.
      const drainMs = signal === 'SIGTERM' ? config.SHUTDOWN_DRAIN_MS : 0;
      await Promise.all([closeApi?.(drainMs), workerListener?.close(), workers?.close()]);
      await queues?.close();
      producer?.disconnect();
      workerConnection?.disconnect();
      await endPool(apiDb, logger);
      await endPool(db, logger);
      logger.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // The terminal or SSH session that started the service closed: stop as gracefully as on SIGTERM.
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
}

try {
  await main(loadConfig());
} catch (error) {
  if (error instanceof ConfigError || error instanceof StartupError) console.error(error.message);
  else console.error('Failed to start:', error);
  process.exit(1);
}
