import { setTimeout as sleep } from 'node:timers/promises';
import type { CliConfig } from './cli-config.js';
import { CliError, EXIT, exitCodeOfStatus } from './exit-codes.js';
import { isRefusedRedirect, redirectFailure, uploadRedirectFailure } from './redirect-failure.js';
import { retryAfterMs } from './retry-after.js';

/** Longest back-off between two attempts. */
const MAX_BACKOFF_MS = 30_000;
/**
 * Longest wait for a per-minute 429, whatever its Retry-After says: the limit's window is a minute,
 * and a wait past 2^31-1 ms is no wait at all to setTimeout.
 */
const MAX_LIMIT_WAIT_MS = 60_000;
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
  /** Aborts the request (and reading its body, and a wait before the next attempt); an aborted request is not retried. */
  signal?: AbortSignal;
  /**
   * False for a request that is not idempotent: a network error or a 5xx is thrown at once (with
   * `afterLostAnswer` set) instead of sending it again; the caller finds out whether it took effect.
   */
  resend?: boolean;
  /**
   * Follows a redirect: only a download, which the service may answer with 302 to a presigned
   * storage URL (fetch sends no Authorization to another origin). Any other 3xx is final, and a
   * request with a `body` stream does not see it at all (see `attempt` in createApiClient).
   */
  followRedirect?: boolean;
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
  /**
   * {@link send}, then the JSON body, read within the attempt: an answer cut off mid-body is a
   * network error, retried like one where the request may be sent again.
   */
  json<T>(method: string, path: string, request?: ApiRequest): Promise<T>;
  /**
   * {@link send}, then `read` on the answer within the attempt, as {@link json} reads its body: a
   * failure of `read` that is not a {@link CliError} is the network's, and the request is sent
   * again (and `read` called on the new answer) where it may be.
   */
  receive<T>(method: string, path: string, request: ApiRequest, read: (response: Response) => Promise<T>): Promise<T>;
}

/**
 * Why a request failed on the network, in a few words; never blank: undici's errors may carry an
 * empty message, and "Could not reach …: ." tells the user nothing.
 */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const candidates = [cause?.code, cause?.message, (error as Error).message, (error as Error).name];
  return candidates.find((text): text is string => typeof text === 'string' && text.trim() !== '') ?? 'unknown error';
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
      // Any mode but 'error' makes fetch tee a body stream to be able to send it again on a
      // redirect, and the copy nobody reads keeps every chunk: an upload would hold the whole
      // file in memory. An upload follows no redirect anyway; 'error' only loses the 3xx answer.
      redirect: request.followRedirect ? 'follow' : body ? 'error' : 'manual',
      signal: request.signal ? AbortSignal.any([request.signal, unanswered.signal]) : unanswered.signal,
    };
    if (!body) waitForAnswer();
    try {
      return await fetch(url, init);
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * Sends the request until it gets a 2xx answer and `read` has read it: a failure of `read` (the
   * body cut off) is the network's, as one of fetch. Everything else throws a {@link CliError}.
   */
  const exchange = async <T>(method: string, path: string, request: ApiRequest, read: (response: Response) => Promise<T>): Promise<T> => {
    const url = new URL(config.baseUrl + path);
    for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    const wait = (ms: number) => sleep(ms, undefined, { signal: request.signal });
    let failures = 0;
    /** Attempts that failed on the network: the service may have done the work, its answer lost. */
    let lostAnswers = 0;
    let limitWaits = 0;
    const backoff = () => Math.min(MAX_BACKOFF_MS, config.retryBaseMs * 2 ** failures);
    /** A failure on the network: thrown when no attempt is left or the request may not be sent again, else waited out. */
    const lost = async (error: unknown, reason: string): Promise<void> => {
      if (error instanceof CliError || request.signal?.aborted) throw error;
      const delay = backoff();
      failures += 1;
      lostAnswers += 1;
      if (failures >= config.retries || request.resend === false) {
        const failure = new CliError(`Could not reach ${config.baseUrl}: ${reason}.`, EXIT.server);
        failure.afterLostAnswer = true;
        throw failure;
      }
      notify(`network error (${reason}); retrying in ${delay / 1000} s`);
      await wait(delay);
    };
    for (;;) {
      let response: Response;
      try {
        response = await attempt(method, url.toString(), request);
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        // The request body's own failure (the upload's file could not be read): not the network's.
        if (cause instanceof CliError) throw cause;
        if (isRefusedRedirect(error)) {
          const failure = await uploadRedirectFailure(url, path, config.answerTimeoutMs);
          failure.afterLostAnswer = lostAnswers > 0;
          throw failure;
        }
        // fetch's network failures carry their cause; a TypeError without one is fetch refusing the
        // request as built, which no retry changes. Its message can quote a header, the key's too.
        if (error instanceof TypeError && cause === undefined) {
          throw new CliError('The request could not be sent: fetch refused it as built (its message is not shown: it may hold the key).', EXIT.usage);
        }
        await lost(error, networkReason(error));
        continue;
      }
      if (response.ok) {
        try {
          return await read(response);
        } catch (error) {
          await lost(error, `the answer was cut off: ${networkReason(error)}`);
          continue;
        }
      }
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined);
        const failure = redirectFailure(response, url, path);
        failure.afterLostAnswer = lostAnswers > 0;
        throw failure;
      }
      const failure = await errorOf(response);
      // A 5xx may come from a proxy after the service did the work: as lost as a network error's.
      if (response.status >= 500 && request.resend === false) {
        failure.afterLostAnswer = true;
        throw failure;
      }
      const retryAfter = retryAfterMs(response.headers.get('retry-after'));
      if (response.status >= 500 && failures + 1 < config.retries) {
        const delay = Math.max(backoff(), Math.min(MAX_BACKOFF_MS, retryAfter ?? 0));
        failures += 1;
        notify(`the service answered ${response.status}; retrying in ${delay / 1000} s`);
        await wait(delay);
        continue;
      }
      if (response.status === 429 && failure.errorCode === 'RATE_LIMIT_EXCEEDED' && retryAfter !== null && limitWaits < RATE_LIMIT_WAITS) {
        limitWaits += 1;
        const delay = Math.min(MAX_LIMIT_WAIT_MS, retryAfter);
        // The service's own words: the per-minute limit, or the account's open event streams.
        notify(`${failure.message.replace(/[.\s]*$/, '.')} Waiting ${Math.ceil(delay / 1000)} s (Retry-After).`);
        await wait(delay);
        continue;
      }
      failure.afterLostAnswer = lostAnswers > 0;
      throw failure;
    }
  };

  return {
    baseUrl: config.baseUrl,
    send: (method, path, request = {}) => exchange(method, path, request, async (response) => response),
    receive: exchange,
    async json<T>(method: string, path: string, request: ApiRequest = {}): Promise<T> {
      const text = await exchange(method, path, request, (response) => response.text());
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new CliError(`The service's answer to ${method} ${path} is not JSON.`, EXIT.server);
      }
    },
  };
}
