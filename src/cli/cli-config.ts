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
  /** How long a request, once sent whole, may wait for the answer to start before it counts as a network error. */
  CATALOG_ANSWER_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
});

/** How the CLI reaches the service, from flags over the environment. */
export interface CliConfig {
  baseUrl: string;
  /** Trimmed, printable ASCII (see {@link apiKeyOf}). Never printed or logged. */
  apiKey: string | undefined;
  retries: number;
  retryBaseMs: number;
  /** Silence after which a job's event stream is given up and resumed on a new connection. */
  eventsIdleMs: number;
  /** A sent request whose answer has not started after this long is given up (and retried where it may be). */
  answerTimeoutMs: number;
}

/** The flags every command takes (commander's global options). */
export interface GlobalFlags {
  url?: string;
  key?: string;
  json?: boolean;
}

export const DEFAULT_URL = 'http://localhost:3000';

/**
 * The key as it will be sent, from `source` (`--key` or CATALOG_API_KEY). Whitespace around it is
 * dropped (a key read from a file ends with a newline); what remains must be printable ASCII, as
 * every key the service issues is. Anything else is no key of the service's, and a line break or
 * a character past Latin-1 cannot even go into an HTTP header: fetch refuses it with a message
 * that quotes the header, key included. So the key is refused here, at once and unsent, with a
 * message that says what is wrong with it, never what it is.
 */
function apiKeyOf(value: string | undefined, source: string): string | undefined {
  const key = value?.trim();
  if (!key) return undefined;
  const problem = /[\r\n]/.test(key)
    ? 'a line break (is it a file of more than one line?)'
    : /[ \t]/.test(key)
      ? 'a space or a tab'
      : /[^\x21-\x7e]/.test(key)
        ? 'a character that is not printable ASCII'
        : null;
  if (problem) throw new CliError(`${source}: the API key holds ${problem}; nothing was sent (the key is not shown).`, EXIT.usage);
  return key;
}

/**
 * The CLI's configuration, parsed once from the environment and the global flags: a flag wins over
 * its variable. A wrong value is a usage error that names the variable. The CLI is a program of its
 * own, so this is its one reader of the environment (the service's is src/shared/config.ts).
 */
export function loadCliConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): CliConfig {
  // A variable whose flag is given is not read at all: a wrong CATALOG_URL left in a shell must not
  // stop a command that names its address with --url (the flag's own value is checked below).
  const replaced = new Set([flags.url !== undefined && 'CATALOG_URL', flags.key !== undefined && 'CATALOG_API_KEY']);
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== '' && !replaced.has(key)),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new CliError(`Invalid configuration: ${problems.join('; ')}`, EXIT.usage);
  }
  const baseUrl = flags.url ?? parsed.data.CATALOG_URL ?? DEFAULT_URL;
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    throw new CliError(`${flags.url === undefined ? 'CATALOG_URL' : '--url'}: not an http(s) URL: ${baseUrl}`, EXIT.usage);
  }
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    apiKey: flags.key === undefined ? apiKeyOf(parsed.data.CATALOG_API_KEY, 'CATALOG_API_KEY') : apiKeyOf(flags.key, '--key'),
    retries: parsed.data.CATALOG_RETRIES,
    retryBaseMs: parsed.data.CATALOG_RETRY_BASE_MS,
    eventsIdleMs: parsed.data.CATALOG_EVENTS_IDLE_MS,
    answerTimeoutMs: parsed.data.CATALOG_ANSWER_TIMEOUT_MS,
  };
}
