import { z } from 'zod';
import { clusterNodesSetting } from './redis-cluster-nodes.js';
import { redisUrlProblem } from './redis-url.js';
import { trustProxySetting } from './trust-proxy.js';
import {
  decimalSetting,
  integerSetting as integer,
  MAX_RETENTION_DAYS,
  millisecondsSetting as milliseconds,
  secondsSetting as seconds,
} from './number-settings.js';

/** Whether `url` names no user and no password (`http://user:pass@host`). */
const withoutCredentials = (url: URL) => url.username === '' && url.password === '';

/** Roles a process can take: the HTTP API, the job workers, or both in one process. */
const ROLES = ['api', 'worker', 'all'] as const;

const envSchema = z.object({
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/catalog'),
  /** Checked in {@link loadConfig}, unless REDIS_CLUSTER_NODES, which takes precedence, is set. */
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** `host:port,…`: seed nodes of a Redis Cluster that BullMQ and every other Redis use run on. */
  REDIS_CLUSTER_NODES: clusterNodesSetting.optional(),
  /**
   * The API's longest wait for one Redis command: a Redis that hangs with its connection open
   * (limits, login counters, queueing) turns into 503 after this instead of a request that hangs.
   */
  REDIS_COMMAND_TIMEOUT_MS: milliseconds(100).default(2_000),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/, 'letters, digits, ":", "_" and "-" only')
    .default('catalog'),
  ROLE: z.enum(ROLES).default('all'),
  WORKER_CONCURRENCY: integer(1).default(2),
  /**
   * ROLE=worker only: the process's scheduling niceness (0: as the API; 19: lowest). On a machine
   * it shares with an API process, imports then take the CPU the API leaves, and API latency holds.
   */
  WORKER_NICE: integer(0, 19).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  MAX_UPLOAD_BYTES: integer(1).default(1024 * 1024 * 1024),
  ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  UPLOAD_RETENTION_DAYS: integer(1, MAX_RETENTION_DAYS).default(7),
  JOB_ATTEMPTS: integer(1).default(5),
  WORKER_LOCK_DURATION_MS: milliseconds(1000).default(30_000),
  WORKER_STALLED_INTERVAL_MS: milliseconds(1000).default(30_000),
  /**
   * A Worker that starts no job for this long while it has a free slot and the same jobs wait in
   * its queue is replaced (its main loop stopped). Three of BullMQ's longest waits for a job (10 s).
   */
  WORKER_STUCK_AFTER_MS: milliseconds(1000).default(30_000),
  SHUTDOWN_GRACE_MS: milliseconds(0).default(20_000),
  /** On SIGTERM, how long the requests under way (an upload, a download) may go on before their connections are closed. */
  SHUTDOWN_HTTP_GRACE_MS: milliseconds(0).default(60_000),
  /**
   * On SIGTERM, how long an API process keeps its listener open and serves as usual (each answer
   * with `Connection: close`) while /readyz answers 503, so that balancers stop sending to it before
   * it refuses connections. Part of SHUTDOWN_HTTP_GRACE_MS, which it never outlasts.
   */
  SHUTDOWN_DRAIN_MS: milliseconds(0).default(5_000),
  IMPORT_MAX_RECORD_BYTES: integer(1024).default(1024 * 1024),
  /** Most bytes an .xlsx workbook may inflate to, all its members together (zip-bomb bound). */
  IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES: integer(1024).default(4 * 1024 * 1024 * 1024),
  /** JSON overrides of the tier limits (API.md §2), merged over the defaults; parsed by the limits module. */
  TIER_LIMITS: z.string().optional(),
  /** Requests a minute without a key from one client address before 429 (API.md §1). */
  UNAUTHENTICATED_RATE_PER_MINUTE: integer(1).default(30),
  /** Invalid-key attempts a minute from one client address before 429 (API.md §1). */
  INVALID_KEY_RATE_PER_MINUTE: integer(1).default(10),
  /** How long an API process reuses a resolved key or session; changes also drop it at once (0: no cache). */
  AUTH_CACHE_TTL_MS: milliseconds(0, 60_000).default(1_000),
  /** How long an API process reuses a polled job's row; every change of the job also drops it at once (0: no cache). */
  JOB_CACHE_TTL_MS: milliseconds(0, 60_000).default(1_000),
  /** How often an API process adds its counted requests to the durable monthly count in PostgreSQL. */
  USAGE_FLUSH_MS: milliseconds(50, 10_000).default(1_000),
  SMTP_URL: z.string().url().optional(),
  MAIL_FROM: z.string().min(3).default('Catalog <no-reply@catalog.local>'),
  /** Where links in mails point (the public base URL of the API). */
  PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  /**
   * Without a user name or password: fetch refuses such a URL, and its error quotes it whole, which
   * would put the password in every job's report. The provider's key goes in ENRICH_PROVIDER_KEY.
   */
  ENRICH_PROVIDER_URL: z
    .string()
    .url()
    .refine((url) => !URL.canParse(url) || withoutCredentials(new URL(url)), 'must not hold a user name or password: give the key in ENRICH_PROVIDER_KEY')
    .optional(),
  ENRICH_PROVIDER_KEY: z.string().min(1).optional(),
  ENRICH_PROVIDER_RATE_PER_MINUTE: integer(1).optional(),
  /** Longest wait for one lookup answer; a slower one is retried like a 5xx. */
  ENRICH_PROVIDER_TIMEOUT_MS: milliseconds(100).default(10_000),
  /** First back-off after a provider 5xx or network error (doubled per attempt, capped at 30 s). */
  ENRICH_PROVIDER_BACKOFF_MS: milliseconds(1).default(1_000),
  /** Lookups one enrichment job keeps in flight. */
  ENRICH_LOOKUP_CONCURRENCY: integer(1).default(8),
  EXPORT_RETENTION_DAYS: integer(1, MAX_RETENTION_DAYS).default(7),
  MAX_JOBS_PER_ACCOUNT: integer(1).default(2),
  /** Shortest time between two runs of an export schedule; a cron that fires more often is refused. */
  EXPORT_SCHEDULE_MIN_INTERVAL_MINUTES: integer(1, 1440).default(5),
  /** Export schedules one account may have. */
  MAX_EXPORT_SCHEDULES_PER_ACCOUNT: integer(1).default(20),
  /** Bytes of export files one account may have stored; an export past it fails (nothing is removed). */
  EXPORT_STORAGE_BYTES_PER_ACCOUNT: integer(1).default(10 * 1024 * 1024 * 1024),
  /** Bearer token that /metrics requires when set; unset, /metrics is open (bind it privately). */
  METRICS_TOKEN: z.string().min(8).optional(),
  /** ROLE=worker only: port of a small listener with /healthz, /readyz and /metrics; unset, none. */
  WORKER_PORT: integer(0, 65535).optional(),
  /** How often workers look for `processing` jobs their queue does not have (lost by Redis, or never queued) and queue them, and for those whose attempts ran out while PostgreSQL was unreachable, to fail them. */
  RECONCILE_INTERVAL_MS: milliseconds(1000).default(60_000),
  /**
   * Behind a reverse proxy or load balancer: take the client address from X-Forwarded-For, so the
   * per-address limits count clients, not the proxy. A hop count or the proxies' CIDR ranges.
   */
  TRUST_PROXY: trustProxySetting,
  /** Allows callback_url to point at private and loopback addresses (tests, private networks). */
  CALLBACK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  /**
   * Operator-wide fallback key of the HMAC-SHA256 `X-Signature` of job callbacks, for accounts
   * without their own secret (POST /v1/callback-secret); unset, such accounts cannot use callback_url.
   */
  CALLBACK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** How long an account's replaced callback secret still signs deliveries (beside the new one). */
  CALLBACK_SECRET_GRACE_HOURS: decimalSetting(0, 720).default(24),
  /** First retry delay of a failed callback delivery; it doubles per attempt, up to an hour. */
  CALLBACK_RETRY_BASE_SECONDS: decimalSetting(0, Number.MAX_SAFE_INTEGER, false).default(5),
  CALLBACK_MAX_ATTEMPTS: integer(1).default(10),
  /** Multipart uploads: text fields beside `file`, the bytes of each, and parts in all (413 past any). */
  MULTIPART_MAX_FIELDS: integer(0).default(10),
  MULTIPART_MAX_FIELD_BYTES: integer(1).default(64 * 1024),
  MULTIPART_MAX_PARTS: integer(1).default(20),
  /**
   * Connections one client address (an IPv6 client: its /64) may hold open on one API process; one
   * more is closed at once (0: no cap). Behind a load balancer every connection comes from it.
   */
  MAX_CONNECTIONS_PER_ADDRESS: integer(0).default(256),
  /**
   * Requests one connection may have in flight (sent ahead of their answers: HTTP/1.1 pipelining);
   * one more closes the connection at once, unanswered.
   */
  MAX_PIPELINED_REQUESTS: integer(1).default(16),
  /** Connections one API process holds open in all (Node's maxConnections): descriptors stay for PostgreSQL, Redis and files. */
  MAX_CONNECTIONS: integer(1).default(10_000),
  /** A connection that sends and receives nothing this long is closed (Fastify connectionTimeout). */
  HTTP_CONNECTION_TIMEOUT_MS: milliseconds(1).default(60_000),
  /** An idle keep-alive connection is closed after this; keep it above a load balancer's idle timeout. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: milliseconds(1).default(72_000),
  /**
   * A request's headers must have arrived within this (Node's headersTimeout; 408): a client that
   * opens connections and never finishes their headers holds each for this long at most.
   */
  HTTP_HEADERS_TIMEOUT_MS: milliseconds(1).default(20_000),
  /** The whole request, body included, must have arrived within this (Fastify requestTimeout; 408). */
  HTTP_REQUEST_TIMEOUT_MS: milliseconds(1).default(60 * 60_000),
  /** A request body gets this long, plus one second per HTTP_BODY_MIN_BYTES_PER_SECOND received (408). */
  HTTP_BODY_TIMEOUT_MS: milliseconds(1).default(30_000),
  HTTP_BODY_MIN_BYTES_PER_SECOND: integer(1).default(10 * 1024),
  /** Longest wait for a new PostgreSQL connection (pg connectionTimeoutMillis), API and workers. */
  DB_CONNECT_TIMEOUT_MS: milliseconds(1).default(10_000),
  /** statement_timeout of the API's connections: no request waits longer on one query (503). */
  API_STATEMENT_TIMEOUT_MS: milliseconds(1).default(30_000),
  /**
   * lock_timeout of the API's connections: no request waits longer for a row or lock that another
   * transaction holds, such as the products a running import has written (503 with Retry-After).
   */
  API_LOCK_TIMEOUT_MS: milliseconds(1).default(2_000),
  /** idle_in_transaction_session_timeout of the API's connections. */
  API_IDLE_IN_TRANSACTION_TIMEOUT_MS: milliseconds(1).default(60_000),
  /** idle_in_transaction_session_timeout of the workers' connections: an import is one long transaction. */
  WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS: milliseconds(1).default(10 * 60_000),
  /** Seconds between heartbeat comments on an idle GET /v1/jobs/{id}/events stream (proxies close silent ones). */
  JOB_EVENTS_HEARTBEAT_SECONDS: seconds(1).default(15),
  /** Event streams (GET /v1/jobs/{id}/events) open at a time on one API process: per account, and in all. */
  JOB_EVENTS_MAX_STREAMS_PER_ACCOUNT: integer(1).default(100),
  JOB_EVENTS_MAX_STREAMS: integer(1).default(2_000),
  /** Streamed downloads (errors.csv, rows.csv, an export's result) open at a time on one API process: per account, and in all. */
  DOWNLOADS_MAX_OPEN_PER_ACCOUNT: integer(1).default(10),
  DOWNLOADS_MAX_OPEN: integer(1).default(100),
  /** Where uploads and export files live: `file://<dir>` (unset: DATA_DIR) or `s3://<bucket>/<prefix>`. */
  STORAGE_URL: z
    .string()
    .regex(/^(file:\/\/.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, 'expected file://<dir> or s3://<bucket>/<prefix>')
    .optional(),
  /** The S3 API endpoint of a store other than AWS (MinIO, R2, Ceph RGW); unset: AWS S3. */
  S3_ENDPOINT: z.string().url().optional(),
  /** The bucket's region (`auto` on R2); unset: the AWS chain's (AWS_REGION, profile). */
  S3_REGION: z.string().min(1).optional(),
  /** Bucket in the path (`endpoint/bucket/key`) instead of the host name: MinIO and Ceph need it. */
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  /** How long a storage request waits for its answer, and a transfer may stall, before it fails. */
  S3_TIMEOUT_MS: milliseconds(100).default(60_000),
  /** `presigned`: result downloads on object storage answer 302 to a short-lived presigned URL. */
  RESULT_REDIRECT: z.enum(['none', 'presigned']).default('none'),
});

/** The service configuration, parsed once from the environment at start. */
export type Config = z.infer<typeof envSchema>;

/** Raised when an environment variable has a value the service cannot use. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment into a {@link Config}. Unset or empty variables take their defaults;
 * a wrong value fails with a message naming the variable, so a bad deployment stops at start.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  // With REDIS_CLUSTER_NODES the service does not use REDIS_URL: a value left from before is no reason to stop.
  const redisProblem = present.REDIS_URL === undefined || 'REDIS_CLUSTER_NODES' in present ? null : redisUrlProblem(present.REDIS_URL);
  if (redisProblem) problems.push(`REDIS_URL: ${redisProblem}`);
  const storageProblem = objectStorageWithoutBucket(present);
  if (storageProblem) problems.push(`STORAGE_URL: ${storageProblem}`);
  if (!parsed.success || problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return parsed.data;
}

/**
 * The object storage settings that say where files go. S3_FORCE_PATH_STYLE and S3_TIMEOUT_MS only
 * tune how a bucket is reached, and configuration templates write them out with their defaults.
 */
const OBJECT_STORAGE_SETTINGS = ['S3_ENDPOINT', 'S3_REGION'] as const;

/**
 * Why the S3 settings given cannot be used: without an `s3://` STORAGE_URL files are kept in a
 * folder, and a deployment that names a store or a region meant a bucket, whereas its files
 * would be kept on one machine's disk unnoticed.
 */
function objectStorageWithoutBucket(present: Record<string, string | undefined>): string | null {
  const given = OBJECT_STORAGE_SETTINGS.filter((key) => key in present);
  const storageUrl = present.STORAGE_URL;
  if (given.length === 0 || storageUrl?.startsWith('s3://')) return null;
  const folder = storageUrl === undefined ? 'DATA_DIR' : 'the file:// folder';
  return `${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set, but STORAGE_URL is ${storageUrl === undefined ? 'unset' : 'not s3://'}, so files would be kept in ${folder}; set STORAGE_URL=s3://<bucket>/<prefix>, or unset ${given.join(', ')}`;
}
