import { z } from 'zod';
import { CliError, EXIT } from './exit-codes.js';

const envSchema = z.object({
  CATALOG_URL: z.string().url().optional(),
  CATALOG_API_KEY: z.string().min(1).optional(),
  /** Attempts of one request after a network error or a 5xx (the first included). */
  CATALOG_RETRIES: z.coerce.number().int().min(1).max(20).default(5),
  /** First back-off after a network error or a 5xx; doubled per attempt, capped at 30 s. */
  CATALOG_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000),
  /**
   * A job's event stream silent this long (not even a heartbeat, which the service sends every
   * JOB_EVENTS_HEARTBEAT_SECONDS, 15 s by default) is taken for dead and reconnected.
   */
  CATALOG_EVENTS_IDLE_MS: z.coerce.number().int().min(100).default(45_000),
});

/** How the CLI reaches the service, from flags over the environment. */
export interface CliConfig {
  baseUrl: string;
  /** Never printed or logged. */
  apiKey: string | undefined;
  retries: number;
  retryBaseMs: number;
  /** Silence after which a job's event stream is given up and resumed on a new connection. */
  eventsIdleMs: number;
}

/** The flags every command takes (commander's global options). */
export interface GlobalFlags {
  url?: string;
  key?: string;
  json?: boolean;
}

export const DEFAULT_URL = 'http://localhost:3000';

/**
 * The CLI's configuration, parsed once from the environment and the global flags: a flag wins over
 * its variable. A wrong value is a usage error that names the variable. The CLI is a program of its
 * own, so this is its one reader of the environment (the service's is src/shared/config.ts).
 */
export function loadCliConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): CliConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new CliError(`Invalid configuration: ${problems.join('; ')}`, EXIT.usage);
  }
  const baseUrl = flags.url ?? parsed.data.CATALOG_URL ?? DEFAULT_URL;
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    throw new CliError(`--url: not an http(s) URL: ${baseUrl}`, EXIT.usage);
  }
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    apiKey: flags.key ?? parsed.data.CATALOG_API_KEY,
    retries: parsed.data.CATALOG_RETRIES,
    retryBaseMs: parsed.data.CATALOG_RETRY_BASE_MS,
    eventsIdleMs: parsed.data.CATALOG_EVENTS_IDLE_MS,
  };
}
