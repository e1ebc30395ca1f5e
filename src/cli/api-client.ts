import { setTimeout as sleep } from 'node:timers/promises';
import type { CliConfig } from './cli-config.js';
import { CliError, EXIT, exitCodeOfStatus } from './exit-codes.js';

/** Longest back-off between two attempts. */
const MAX_BACKOFF_MS = 30_000;
/** Times a per-minute 429 is waited out (its Retry-After) before the command gives up with exit 4. */
const RATE_LIMIT_WAITS = 3;

/**
 * One request; `body` is a function because a retried attempt needs a fresh body stream. It calls
 * `sent` once its stream has given its last byte: the wait for the answer starts then.
 */
export interface ApiRequest {
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  json?: unknown;
  body?: (sent: () => void) => { stream: ReadableStream<Uint8Array>; contentType: string };
  /** Aborts the request (and reading its body); an aborted request is not retried. */
  signal?: AbortSignal;
  /**
   * False for a request that is not idempotent: a network error or a 5xx is thrown at once (with
   * `afterLostAnswer` set) instead of sending it again; the caller finds out whether it took effect.
   */
  resend?: boolean;
}

/** The service's error envelope (API.md §1), as far as the CLI reads it. */
interface ErrorEnvelope {
  error?: string;
  error_code?: string;
}

/** Talks to the service: credentials, retries and the mapping of failures to exit codes. */
export interface ApiClient {
  readonly baseUrl: string;
  /** Sends a request until it gets a 2xx answer, which it returns; anything else throws a {@link CliError}. */
  send(method: string, path: string, request?: ApiRequest): Promise<Response>;
  /** {@link send}, then the JSON body. */
  json<T>(method: string, path: string, request?: ApiRequest): Promise<T>;
}

/** Seconds of a Retry-After header (delta-seconds form), or null. */
function retryAfterSeconds(response: Response): number | null {
  const value = Number(response.headers.get('retry-after'));
  return Number.isFinite(value) && value >= 0 ? value : null;
}

/** The failure of an error answer, from its envelope when it has one. */
async function errorOf(response: Response): Promise<CliError> {
  const text = await response.text().catch(() => '');
  let envelope: ErrorEnvelope = {};
  try {
    envelope = JSON.parse(text) as ErrorEnvelope;
  } catch {
    // Not the service's envelope (a proxy's page): the status says enough.
  }
  const message = envelope.error ?? `The service answered ${response.status} ${response.statusText}.`;
  return new CliError(message, exitCodeOfStatus(response.status), envelope.error_code ?? null, response.headers.get('x-request-id'));
}

/**
 * An {@link ApiClient} for `config`. Network errors and 5xx answers are retried with exponential
 * back-off (a job-starting POST carries an Idempotency-Key, so a retry never starts a second job);
 * a per-minute 429 waits for its Retry-After; other 4xx answers are final. `notify` hears of each wait.
 */
export function createApiClient(config: CliConfig, notify: (line: string) => void): ApiClient {
  /**
   * The request's headers, built here rather than by fetch: a value fetch refuses would be quoted
   * in its error, and that error would read as a network failure, be retried and be printed. Here
   * it is a usage error at once that names the header, never its value (which may be the key).
   */
  const headersOf = (request: ApiRequest, contentType: string | undefined): Headers => {
    if (!config.apiKey) throw new CliError('No API key: pass --key or set CATALOG_API_KEY.', EXIT.auth);
    const fields: Record<string, string> = {
      authorization: `Bearer ${config.apiKey}`,
      ...(contentType ? { 'content-type': contentType } : {}),
      ...request.headers,
    };
    const headers = new Headers();
    for (const [name, value] of Object.entries(fields)) {
      try {
        headers.set(name, value);
      } catch {
        throw new CliError(`The ${name} header has a value no HTTP request can carry; nothing was sent (the value is not shown).`, EXIT.usage);
      }
    }
    return headers;
  };

  /**
   * One attempt. Once the request is sent whole, its answer must start within answerTimeoutMs: a
   * service or proxy that takes a request and never answers would otherwise hold the command for
   * the HTTP client's own timeout (five minutes) on every attempt.
   */
  const attempt = async (method: string, url: string, request: ApiRequest): Promise<Response> => {
    const unanswered = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const waitForAnswer = () => {
      timer = setTimeout(() => unanswered.abort(new Error(`no answer within ${config.answerTimeoutMs / 1000} s`)), config.answerTimeoutMs);
    };
    const body = request.body?.(waitForAnswer);
    const contentType = body?.contentType ?? (request.json !== undefined ? 'application/json' : undefined);
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers: headersOf(request, contentType),
      body: body?.stream ?? (request.json !== undefined ? JSON.stringify(request.json) : undefined),
      ...(body ? { duplex: 'half' } : {}),
      signal: request.signal ? AbortSignal.any([request.signal, unanswered.signal]) : unanswered.signal,
    };
    if (!body) waitForAnswer();
    try {
      return await fetch(url, init);
    } finally {
      clearTimeout(timer);
    }
  };

  const send = async (method: string, path: string, request: ApiRequest = {}): Promise<Response> => {
    const url = new URL(config.baseUrl + path);
    for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    let failures = 0;
    /** Attempts that failed on the network: the service may have done the work, its answer lost. */
    let lostAnswers = 0;
    let limitWaits = 0;
    for (;;) {
      const backoff = Math.min(MAX_BACKOFF_MS, config.retryBaseMs * 2 ** failures);
      let response: Response;
      try {
        response = await attempt(method, url.toString(), request);
      } catch (error) {
        if (error instanceof CliError || request.signal?.aborted) throw error;
        const cause = (error as { cause?: unknown }).cause;
        // The request body's own failure (the upload's file could not be read): not the network's.
        if (cause instanceof CliError) throw cause;
        // fetch's network failures carry their cause; a TypeError without one is fetch refusing the
        // request as built, which no retry changes. Its message can quote a header, the key's too.
        if (error instanceof TypeError && cause === undefined) {
          throw new CliError('The request could not be sent: fetch refused it as built (its message is not shown: it may hold the key).', EXIT.usage);
        }
        failures += 1;
        lostAnswers += 1;
        const { code, message } = (cause ?? {}) as { code?: string; message?: string };
        const reason = code ?? message ?? (error as Error).message;
        if (failures >= config.retries || request.resend === false) {
          const failure = new CliError(`Could not reach ${config.baseUrl}: ${reason}.`, EXIT.server);
          failure.afterLostAnswer = true;
          throw failure;
        }
        notify(`network error (${reason}); retrying in ${backoff / 1000} s`);
        await sleep(backoff);
        continue;
      }
      if (response.ok) return response;
      const failure = await errorOf(response);
      // A 5xx may come from a proxy after the service did the work: as lost as a network error's.
      if (response.status >= 500 && request.resend === false) {
        failure.afterLostAnswer = true;
        throw failure;
      }
      if (response.status >= 500 && (failures += 1) < config.retries) {
        const wait = Math.max(backoff, Math.min(MAX_BACKOFF_MS, (retryAfterSeconds(response) ?? 0) * 1000));
        notify(`the service answered ${response.status}; retrying in ${wait / 1000} s`);
        await sleep(wait);
        continue;
      }
      const retryAfter = retryAfterSeconds(response);
      if (response.status === 429 && failure.errorCode === 'RATE_LIMIT_EXCEEDED' && retryAfter !== null && limitWaits < RATE_LIMIT_WAITS) {
        limitWaits += 1;
        notify(`per-minute limit reached; waiting ${retryAfter} s (Retry-After)`);
        await sleep(retryAfter * 1000);
        continue;
      }
      failure.afterLostAnswer = lostAnswers > 0;
      throw failure;
    }
  };

  return {
    baseUrl: config.baseUrl,
    send,
    async json<T>(method: string, path: string, request?: ApiRequest): Promise<T> {
      return (await (await send(method, path, request)).json()) as T;
    },
  };
}
