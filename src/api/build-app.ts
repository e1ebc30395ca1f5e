import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import type { RedisConnection } from '../shared/redis-connection.js';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db/pool.js';
import { cancelChannel } from '../shared/job-control.js';
import { createMetrics, QUEUE_STATES, type ServiceMetrics } from '../shared/metrics.js';
import type { JobQueues } from '../shared/queues.js';
import type { FileStore } from '../shared/storage/file-store.js';
import { parseTierLimits } from '../shared/accounts/tier-limits.js';
import { createMailer, type Mailer } from '../shared/mail/mailer.js';
import { systemResolver, type HostResolver } from '../shared/callbacks/host-resolver.js';
import { verifyPassword, type PasswordVerifier } from '../shared/accounts/passwords.js';
import { queuePrefix } from '../shared/queues.js';
import { trustProxyOption } from '../shared/trust-proxy.js';
import { createRequestLimits } from './plugins/limits.js';
import { createCredentialAttempts } from './plugins/credential-attempts.js';
import { createCredentialCache } from './plugins/credential-cache.js';
import { createCredentialSubscription } from './plugins/credential-subscription.js';
import { credentialChanges, credentialChannel, type CredentialChanges } from '../shared/accounts/credential-changes.js';
import { accountRoutes } from './routes/accounts.js';
import { createUnknownEmailLogins } from './unknown-email-logins.js';
import { keyRoutes } from './routes/keys.js';
import { callbackSecretRoutes } from './routes/callback-secret.js';
import { usageRoutes } from './routes/usage.js';
import { registerAuth } from './plugins/auth.js';
import { MAX_JSON_BODY_BYTES } from '../shared/http/app-error.js';
import { clientErrorHandler, registerErrorHandling, sendFrameworkError } from '../shared/http/error-handler.js';
import { registerRequestGuards } from './plugins/request-guards.js';
import { registerJsonBody } from './json-body.js';
import { multipartLimits } from './multipart-limits.js';
import { HTTP_SERVER_OPTIONS, registerExpectations } from './expectations.js';
import { headersTimeoutOptions, limitConnections } from './connection-limits.js';
import { limitPipelinedRequests } from './pipelined-requests.js';
import { ApiShutdown, registerShutdownAnswers } from './api-shutdown.js';
import { registerOpenApi } from './plugins/openapi.js';
import { registerDashboard } from './dashboard.js';
import { clearQueuePauses, recordQueuePauses } from '../shared/jobs/queue-pause-queries.js';
import { ExportScheduler } from '../shared/schedules/export-scheduler.js';
import { registerMetrics } from './plugins/metrics.js';
import { adminQueueRoutes } from './routes/admin-queues.js';
import { adminRoutes } from './routes/admin.js';
import { enrichmentRoutes } from './routes/enrichments.js';
import { exportScheduleRoutes } from './routes/export-schedules.js';
import { exportRoutes } from './routes/exports.js';
import { healthRoutes } from '../shared/http/health-routes.js';
import { importRoutes } from './routes/imports.js';
import { createJobAcceptor } from './job-acceptance.js';
import { importProfileRoutes } from './routes/import-profiles.js';
import { jobRowsCsvRoutes } from './routes/job-rows-csv.js';
import { jobResultRoutes } from './routes/job-results.js';
import { cancelJobForOperator, jobControlRoutes, retryJobForOperator } from './routes/job-control.js';
import { jobRoutes } from './routes/jobs.js';
import { jobEventRoutes } from './routes/job-events.js';
import { OpenStreams } from './open-streams.js';
import { createJobChangeListener } from './job-events/job-change-listener.js';
import { createStreamCredentials } from './job-events/stream-credentials.js';
import { createJobCache } from './job-cache.js';
import { productRoutes } from './routes/products.js';
import { ProductWrites } from './product-writes.js';
import { productListPlaces } from './product-lists.js';
import { responseSerializerCompiler } from './response-serializer.js';
import { withInlineUploads } from '../shared/storage/inline-uploads.js';

/** Everything the API needs; a test passes its own database, Redis and queue prefix. */
export interface AppDeps {
  config: Config;
  db: Db;
  /** The producer connection (also used by /readyz). */
  redis: RedisConnection;
  queues: JobQueues;
  uploads: FileStore;
  logger: Logger;
  /** Sends verification mails; default: SMTP when SMTP_URL is set, else the database outbox. */
  mailer?: Mailer;
  /** Milliseconds since the epoch; tests pass their own to move time (lockout, expiry, windows). */
  clock?: () => number;
  /** This process's metrics registry (shared with its workers in ROLE=all); a fresh one when absent. */
  metrics?: ServiceMetrics;
  /** In a process that also runs workers: whether their blocking Redis connections are up (/readyz). */
  workersAlive?: () => Promise<boolean>;
  /** Resolves callback_url hosts; default: the system resolver. */
  resolveHost?: HostResolver;
  /** The login's password check; default the scrypt check (a test counts the checks through it). */
  verifyPassword?: PasswordVerifier;
  /** This process's shutdown, begun by its owner at SIGTERM (see closeApi); else when the app closes. */
  shutdown?: ApiShutdown;
}

/** A request id from the client's X-Request-Id when it is a sane token, else a new UUID. */
function requestId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[\w.:-]{1,128}$/.test(value) ? value : randomUUID();
}

/** Builds the HTTP API (not listening); the caller owns the dependencies and closes them. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: (request) => requestId(request.headers['x-request-id']),
    bodyLimit: MAX_JSON_BODY_BYTES,
    trustProxy: trustProxyOption(deps.config.TRUST_PROXY),
    frameworkErrors: sendFrameworkError,
    connectionTimeout: deps.config.HTTP_CONNECTION_TIMEOUT_MS,
    keepAliveTimeout: deps.config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: deps.config.HTTP_REQUEST_TIMEOUT_MS,
    clientErrorHandler,
    http: { ...HTTP_SERVER_OPTIONS, ...headersTimeoutOptions(deps.config.HTTP_HEADERS_TIMEOUT_MS, deps.config.HTTP_REQUEST_TIMEOUT_MS) },
    // Refused below with the contract's envelope instead of Fastify's own 503 body.
    return503OnClosing: false,
  });
  limitConnections(app.server, { perAddress: deps.config.MAX_CONNECTIONS_PER_ADDRESS, total: deps.config.MAX_CONNECTIONS }, app.log);
  limitPipelinedRequests(app.server, deps.config.MAX_PIPELINED_REQUESTS, app.log);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const shutdown = deps.shutdown ?? new ApiShutdown();
  registerShutdownAnswers(app, shutdown);
  registerErrorHandling(app, deps.config.MAX_UPLOAD_BYTES);
  registerExpectations(app);
  registerJsonBody(app);
  registerRequestGuards(app, { timeoutMs: deps.config.HTTP_BODY_TIMEOUT_MS, minBytesPerSecond: deps.config.HTTP_BODY_MIN_BYTES_PER_SECOND });
  await app.register(multipart, { limits: multipartLimits(deps.config) });
  const clock = deps.clock ?? Date.now;
  const tierLimits = parseTierLimits(deps.config.TIER_LIMITS);
  const limits = createRequestLimits({
    redis: deps.redis,
    db: deps.db,
    keyPrefix: queuePrefix(deps.config),
    tierLimits,
    unauthenticatedPerMinute: deps.config.UNAUTHENTICATED_RATE_PER_MINUTE,
    invalidKeyPerMinute: deps.config.INVALID_KEY_RATE_PER_MINUTE,
    usageFlushMs: deps.config.USAGE_FLUSH_MS,
    clock,
    logger: app.log,
  });
  const channel = credentialChannel(deps.config);
  const subscription = createCredentialSubscription({ redis: deps.redis, channel, logger: app.log });
  const credentials = createCredentialCache({ subscription, ttlMs: deps.config.AUTH_CACHE_TTL_MS });
  const announced = credentialChanges(deps.redis, channel, (err, accountId) =>
    app.log.warn({ err, accountId }, 'credential change not announced; other processes drop it when their cache entry expires'));
  const changes: CredentialChanges = {
    // This process drops the entries at once; the others when the announcement reaches them.
    async announce(accountId) {
      credentials.forget(accountId);
      await announced.announce(accountId);
    },
  };
  app.addHook('onClose', async () => {
    credentials.close();
    await subscription.close();
    await limits.close();
  });
  // One memory of credentials that passed, for the API's keys, the dashboard and /metrics alike.
  const attempts = createCredentialAttempts(limits);
  registerAuth(app, { db: deps.db, adminApiKey: deps.config.ADMIN_API_KEY, limits, attempts, credentials, clock });
  await registerOpenApi(app, { maxUploadBytes: deps.config.MAX_UPLOAD_BYTES });
  const metrics = deps.metrics ?? createMetrics();
  metrics.watchQueues({
    counts: (type) => deps.queues.queue(type).getJobCounts(...QUEUE_STATES),
    isPaused: (type) => deps.queues.queue(type).isPaused(),
  });
  registerMetrics(app, { metrics, token: deps.config.METRICS_TOKEN, attempts });
  const jobChanges = createJobChangeListener(deps.config.DATABASE_URL, app.log);
  app.addHook('onClose', () => jobChanges.close());
  const jobCache = createJobCache(jobChanges, deps.config.JOB_CACHE_TTL_MS, metrics.jobCacheReads);
  // Small uploads are kept in PostgreSQL with their job rows (the rows.csv download reads them too).
  const uploads = withInlineUploads(deps.db, deps.uploads);
  const uploadRetention = { days: deps.config.UPLOAD_RETENTION_DAYS, clock };
  const jobControl = {
    db: deps.db, queues: deps.queues, redis: deps.redis, cancelChannel: cancelChannel(deps.config), jobCache, uploads, uploadRetention,
  };
  // The export schedules' queue: their routes register ticks on it, the dashboard shows them.
  const scheduleTicks = new ExportScheduler(deps.redis, deps.config, deps.logger);
  app.addHook('onClose', () => scheduleTicks.close());
  await registerDashboard(app, {
    queues: deps.queues,
    scheduleTicks: scheduleTicks.queue,
    adminApiKey: deps.config.ADMIN_API_KEY,
    retryJob: (id) => retryJobForOperator(jobControl, id, app.log),
    cancelJob: (id) => cancelJobForOperator(jobControl, id, app.log),
    pauses: { record: (queues) => recordQueuePauses(deps.db, queues), clear: (queues) => clearQueuePauses(deps.db, queues) },
    attempts,
  });

  healthRoutes(app, { db: deps.db, redis: deps.redis, redisPrefix: queuePrefix(deps.config), workersAlive: deps.workersAlive, shuttingDown: () => shutdown.begun });
  adminRoutes(app, { db: deps.db, changes });
  const mailer = deps.mailer ?? createMailer({ db: deps.db, logger: deps.logger, config: deps.config });
  accountRoutes(app, {
    db: deps.db, mailer, clock, publicUrl: deps.config.PUBLIC_URL, verifyPassword: deps.verifyPassword ?? verifyPassword,
    unknownEmailLogins: createUnknownEmailLogins(deps.redis, queuePrefix(deps.config)),
  });
  keyRoutes(app, { db: deps.db, clock, changes });
  callbackSecretRoutes(app, { db: deps.db, graceHours: deps.config.CALLBACK_SECRET_GRACE_HOURS });
  usageRoutes(app, { usedInMonth: limits.usedInMonth, tierLimits, clock });
  const callbacks = {
    db: deps.db,
    fallbackSecret: deps.config.CALLBACK_SECRET,
    allowPrivate: deps.config.CALLBACK_ALLOW_PRIVATE,
    resolveHost: deps.resolveHost ?? systemResolver,
  };
  adminQueueRoutes(app, { queues: deps.queues });
  // BullMQ starts each queue with one command; a queue whose start timed out (a Redis that hangs)
  // fails every later command, so the API does not serve without its queues. While Redis is down
  // they send nothing and fail nothing: they start once it is back.
  app.addHook('onReady', async () => {
    if (deps.redis.status === 'ready') await deps.queues.started();
  });
  const { acceptJob, drain } = createJobAcceptor({ db: deps.db, queues: deps.queues, logger: app.log });
  // Before the owner closes the queues: the jobs accepted last are queued, or left to the reconciler.
  app.addHook('onClose', drain);
  importRoutes(app, {
    db: deps.db,
    queues: deps.queues,
    acceptJob,
    uploads,
    maxUploadBytes: deps.config.MAX_UPLOAD_BYTES,
    multipart: multipartLimits(deps.config),
    callbacks,
  });
  const downloads = new OpenStreams('downloads', { perAccount: deps.config.DOWNLOADS_MAX_OPEN_PER_ACCOUNT, perProcess: deps.config.DOWNLOADS_MAX_OPEN });
  const recordLimits = { maxRecordBytes: deps.config.IMPORT_MAX_RECORD_BYTES, maxXlsxUncompressedBytes: deps.config.IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES };
  jobRoutes(app, { db: deps.db, jobCache, downloads, uploads, limits: recordLimits });
  importProfileRoutes(app, { db: deps.db });
  jobRowsCsvRoutes(app, { db: deps.db, uploads, downloads, uploadRetention, ...recordLimits });
  const heartbeatMs = deps.config.JOB_EVENTS_HEARTBEAT_SECONDS * 1000;
  const timings = { heartbeatMs, countsIntervalMs: 1_000, fallbackPollMs: 1_000 };
  const streams = new OpenStreams('event streams', { perAccount: deps.config.JOB_EVENTS_MAX_STREAMS_PER_ACCOUNT, perProcess: deps.config.JOB_EVENTS_MAX_STREAMS });
  const streamCredentials = createStreamCredentials({ db: deps.db, subscription, clock, logger: app.log, fallbackPollMs: timings.fallbackPollMs });
  app.addHook('onClose', async () => streamCredentials.close());
  jobEventRoutes(app, { db: deps.db, listener: jobChanges, timings, streams, credentials: streamCredentials });
  enrichmentRoutes(app, { db: deps.db, queues: deps.queues, callbacks, acceptJob });
  exportRoutes(app, { db: deps.db, queues: deps.queues, callbacks, acceptJob });
  exportScheduleRoutes(app, { db: deps.db, redis: deps.redis, config: deps.config, scheduler: scheduleTicks });
  jobResultRoutes(app, {
    db: deps.db, files: uploads, redirect: deps.config.RESULT_REDIRECT, downloads, exportRetentionDays: deps.config.EXPORT_RETENTION_DAYS, clock,
  });
  jobControlRoutes(app, jobControl);
  productRoutes(app, {
    db: deps.db,
    writes: new ProductWrites(deps.config.API_LOCK_TIMEOUT_MS),
    lists: productListPlaces(deps.config.DB_CONNECT_TIMEOUT_MS),
  });
  return app;
}
