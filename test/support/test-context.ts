import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import type { Logger } from 'pino';
import { inject } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import type { PasswordVerifier } from '../../src/shared/accounts/passwords.js';
import { loadConfig, type Config } from '../../src/shared/config.js';
import { ensureDatabase, migrate } from '../../src/shared/db/migrate.js';
import { apiSessionLimits, createPool, workerSessionLimits, type Db } from '../../src/shared/db/pool.js';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import type { HostResolver } from '../../src/shared/callbacks/host-resolver.js';
import { createLogger } from '../../src/shared/logger.js';
import {
  createJobQueues,
  createProducerConnection,
  createWorkerConnection,
  queuePrefix,
  waitUntilReady,
  type JobQueues,
  type RedisConnection,
} from '../../src/shared/queues.js';
import { deleteKeys } from '../../src/shared/redis-connection.js';
import { UploadStore } from '../../src/shared/upload-store.js';
import type { FileStore } from '../../src/shared/storage/file-store.js';
import { createFileStore } from '../../src/shared/storage/create-file-store.js';
import { S3_TEST_CREDENTIALS, startS3TestServer, type S3TestServer } from './s3-test-server.js';
import { recordResponses } from './response-conformance.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/start-workers.js';

export const ADMIN_KEY = 'test-admin-key-0123456789-0123456789';

export interface TestContextOptions {
  /** Start the workers in this process too (default true). */
  workers?: boolean;
  /** Environment-style overrides of the configuration. */
  env?: Record<string, string>;
  /** The API's clock (ms since the epoch); default Date.now. */
  clock?: () => number;
  /** Resolves callback_url hosts in the API and the workers; default: the system resolver. */
  resolveHost?: HostResolver;
  /** The login's password check; default the real one (a test wraps it to count checks). */
  verifyPassword?: PasswordVerifier;
  /**
   * Where files live: the local data folder (default); `'s3'`, an S3 test server of this context;
   * or a given S3 test server, reached through `endpoint` (e.g. a fault-injecting proxy).
   */
  storage?: 's3' | { s3: S3TestServer; endpoint?: string };
  /** The logger of the API and the workers; default one at LOG_LEVEL (silent). */
  logger?: Logger;
}

/**
 * Limits so generous that no test is throttled by accident (tests poll jobs every 50 ms);
 * the limit tests set the real numbers through `env`.
 */
const GENEROUS_LIMITS: Record<string, string> = {
  TIER_LIMITS: JSON.stringify({
    FREE: { monthly: 1e9, per_minute: 1e6 },
    PRO: { monthly: 1e9, per_minute: 1e6 },
    ENTERPRISE: { monthly: null, per_minute: 1e6 },
  }),
  UNAUTHENTICATED_RATE_PER_MINUTE: '1000000',
  INVALID_KEY_RATE_PER_MINUTE: '1000000',
  // Tests change keys and accounts in the database directly, which no API process hears of: the
  // credential cache is off unless a test turns it on.
  AUTH_CACHE_TTL_MS: '0',
};

/**
 * One isolated service for one test file: its own database (created and migrated), its own queue
 * prefix and data folder, against the real PostgreSQL and Redis of the test run.
 */
export interface TestContext {
  app: FastifyInstance;
  db: Db;
  /** The API's own pool (as in src/main.ts): the statements of HTTP requests run on it. */
  apiDb: Db;
  config: Config;
  /** Environment that makes another process (a worker child) join this context. */
  env: Record<string, string>;
  queues: JobQueues;
  redis: RedisConnection;
  uploads: UploadStore;
  /** The store the service runs on. */
  store: FileStore;
  /** The S3 test server of an object-storage context. */
  s3: S3TestServer | null;
  workers: RunningWorkers | null;
  /** Starts (or restarts) the in-process workers. */
  startWorkers(): RunningWorkers;
  /** Creates an account through the operator API; returns its id and first key. */
  createAccount(email?: string): Promise<{ id: string; key: string }>;
  /** POSTs a CSV body to /v1/imports as text/csv. */
  upload(key: string, csv: string | Buffer, query?: Record<string, string>, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Uploads a CSV and waits for the job to end; returns the job resource. */
  importCsv(key: string, csv: string | Buffer, query?: Record<string, string>): Promise<JobResource>;
  /** Polls GET /v1/jobs/{id} until the job has ended. */
  waitForJob(key: string, id: string, timeoutMs?: number): Promise<JobResource>;
  /** GET with a key; returns the response. */
  get(key: string, url: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Creates a {@link TestContext}; call `close()` in `afterAll`. */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const suffix = randomBytes(5).toString('hex');
  const databaseUrl = new URL(inject('databaseUrl'));
  const adminUrl = databaseUrl.toString();
  databaseUrl.pathname = `/catalog_test_${suffix}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'catalog-test-'));
  const ownS3 = options.storage === 's3' ? await startS3TestServer() : null;
  const s3 = ownS3 ?? (typeof options.storage === 'object' ? options.storage.s3 : null);
  const s3Endpoint = typeof options.storage === 'object' ? options.storage.endpoint : undefined;
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: `test-${suffix}`,
    DATA_DIR: dataDir,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
    JOB_ATTEMPTS: '3',
    SHUTDOWN_GRACE_MS: '2000',
    // An API process a test stops closes its listener at once (shutdown-drain.test.ts sets a drain).
    SHUTDOWN_DRAIN_MS: '0',
    ...GENEROUS_LIMITS,
    ...s3?.env(`ctx-${suffix}`, s3Endpoint),
    ...options.env,
  };
  const config = loadConfig(env);
  await ensureDatabase(config.DATABASE_URL);
  const db = createPool(config.DATABASE_URL, 10, workerSessionLimits(config));
  await migrate(db);
  // The API has its own pool, as in src/main.ts: its statement timeout must not reach the workers.
  const apiDb = createPool(config.DATABASE_URL, 10, apiSessionLimits(config));
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const redis = createProducerConnection(config);
  await waitUntilReady(redis);
  const queues = createJobQueues(redis, config);
  const uploads = new UploadStore(config.DATA_DIR);
  const store = s3 ? await createFileStore(config, { credentials: S3_TEST_CREDENTIALS }) : uploads;
  const app = await buildApp({
    config, db: apiDb, redis, queues, uploads: store, logger, clock: options.clock,
    resolveHost: options.resolveHost, verifyPassword: options.verifyPassword,
  });
  const responses = recordResponses(app);
  const workerConnection = createWorkerConnection(config);

  const context: TestContext = {
    app,
    db,
    apiDb,
    config,
    env,
    queues,
    redis,
    uploads,
    store,
    s3,
    workers: null,
    startWorkers() {
      context.workers = startWorkers({ db, uploads: store, logger, config, connection: workerConnection, resolveHost: options.resolveHost });
      return context.workers;
    },
    async createAccount(email = `user-${randomBytes(4).toString('hex')}@example.com`) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/admin/accounts',
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
        payload: { email },
      });
      if (response.statusCode !== 201) throw new Error(`createAccount: ${response.statusCode} ${response.body}`);
      const body = response.json<{ id: string; api_key: string }>();
      return { id: body.id, key: body.api_key };
    },
    upload(key, csv, query = {}, headers = {}) {
      return app.inject({
        method: 'POST',
        url: '/v1/imports',
        query,
        headers: { 'x-api-key': key, 'content-type': 'text/csv', ...headers },
        payload: csv,
      });
    },
    async importCsv(key, csv, query) {
      const response = await context.upload(key, csv, query);
      if (response.statusCode !== 202) throw new Error(`upload: ${response.statusCode} ${response.body}`);
      return context.waitForJob(key, response.json<{ id: string }>().id);
    },
    async waitForJob(key, id, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = (await context.get(key, `/v1/jobs/${id}`)).json<JobResource>();
        if (job.status !== 'processing') return job;
        if (Date.now() > deadline) throw new Error(`job ${id} still processing: ${JSON.stringify(job)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    get(key, url) {
      return app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
    },
    async close() {
      const undocumented = await responses.problems();
      await app.close();
      await context.workers?.close();
      await queues.close();
      // A file that stopped and restarted its Redis may close before the client has reconnected.
      await waitUntilReady(redis);
      await deleteKeys(redis, `${queuePrefix(config)}:*`);
      redis.disconnect();
      workerConnection.disconnect();
      await apiDb.end();
      await db.end();
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(databaseUrl.pathname.slice(1))} WITH (FORCE)`);
      await admin.end();
      await rm(dataDir, { recursive: true, force: true });
      await ownS3?.stop();
      if (undocumented.length > 0) {
        throw new Error(`responses that differ from the OpenAPI document:\n${undocumented.join('\n')}`);
      }
    },
  };
  if (options.workers !== false) context.startWorkers();
  return context;
}
