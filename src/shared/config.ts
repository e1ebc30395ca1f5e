import { z } from 'zod';

/** Roles a process can take: the HTTP API, the job workers, or both in one process. */
export const ROLES = ['api', 'worker', 'all'] as const;
export type Role = (typeof ROLES)[number];

const integer = (min: number) => z.coerce.number().int().min(min);

const envSchema = z.object({
  PORT: integer(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/catalog'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/, 'letters, digits, ":", "_" and "-" only')
    .default('catalog'),
  ROLE: z.enum(ROLES).default('all'),
  WORKER_CONCURRENCY: integer(1).default(2),
  DATA_DIR: z.string().min(1).default('./data'),
  MAX_UPLOAD_BYTES: integer(1).default(1024 * 1024 * 1024),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  UPLOAD_RETENTION_DAYS: integer(1).default(7),
  JOB_ATTEMPTS: integer(1).default(5),
  WORKER_LOCK_DURATION_MS: integer(1000).default(30_000),
  WORKER_STALLED_INTERVAL_MS: integer(1000).default(30_000),
  SHUTDOWN_GRACE_MS: integer(0).default(20_000),
  IMPORT_MAX_RECORD_BYTES: integer(1024).default(1024 * 1024),
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
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}
