import { setTimeout as sleep } from 'node:timers/promises';
import { httpDate } from '../../shared/http/http-date.js';
import type { ProviderCallResult } from '../../shared/metrics.js';
import { mapProviderProduct, otherEan, type ProviderFields } from './provider-fields.js';
import { providerWords } from './provider-words.js';
import type { ProviderRateLimiter } from './provider-rate-limiter.js';

/** What one lookup came to, after the retries the provider's contract allows. */
export type LookupOutcome =
  | { kind: 'found'; fields: ProviderFields }
  /** 404: the provider does not know the EAN (not retried). */
  | { kind: 'not_found' }
  /** A 2xx answer whose product names another EAN (`ean`): not used, and not retried. */
  | { kind: 'other_ean'; ean: string }
  /** 429 without Retry-After, or with the quota's body: the monthly quota is used up; no more calls for this job. */
  | { kind: 'quota'; error: string; limit: number | null; tier: string | null }
  /** Any other 4xx (invalid or expired key, suspended account): no more calls at all. */
  | { kind: 'refused'; status: number; error: string }
  /** 5xx, network errors, timeouts and 2xx answers that are not a JSON object, on every attempt. */
  | { kind: 'failed'; attempts: number; reason: string }
  /**
   * `stop` aborted before an answer to keep came: no call was made, or the last one is to be
   * retried (5xx, network error, timeout, 429 with Retry-After). The product is looked up again later.
   */
  | { kind: 'stopped' };

export interface ProviderClientOptions {
  /** ENRICH_PROVIDER_URL: lookups are `GET {url}/{ean}`. */
  url: string;
  /** ENRICH_PROVIDER_KEY, sent as `X-API-Key`. */
  apiKey: string | undefined;
  limiter: ProviderRateLimiter;
  /** Longest wait for one answer; a slower one counts as a failed attempt. */
  timeoutMs: number;
  /** First back-off after a 5xx or network error; doubled per attempt (1 s, 2 s, 4 s …). */
  backoffBaseMs: number;
  backoffCapMs?: number;
  maxAttempts?: number;
  /** Source of the back-off jitter (tests may fix it). */
  random?: () => number;
  /** Told what each call answered (the provider calls metric). */
  onCall?: (result: ProviderCallResult) => void;
}

/**
 * Retry-After in ms (RFC 9110 §10.2.3): delta-seconds (digits only) or an HTTP-date, counted from
 * `now` (a date past is no wait); null when absent or neither, and the caller waits its back-off.
 * Two headers joined by a comma (`6, 6`; a proxy may add its own) count by the first. `Date.parse`
 * alone would take `6, 6` for the year 2001, `-5` for a date past and `Later 2030` for 2030.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const items = header.split(',');
  if (/^\d+$/.test(items[0]!.trim())) return Number(items[0]!.trim()) * 1000;
  // An asctime date has no comma, an IMF-fixdate or RFC 850 one has one, after its weekday.
  const date = httpDate(items[0]) ?? httpDate(items.slice(0, 2).join(','));
  return date === null ? null : Math.max(0, date - now);
}

/**
 * Back-off before attempt `attempt + 1` (attempt ≥ 1): base·2^(attempt−1), capped, times a jitter
 * factor in [0.75, 1.25) so that workers that failed together do not retry together, capped again.
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const nominal = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  return Math.min(capMs, Math.round(nominal * (0.75 + random() * 0.5)));
}

/** The longest answer read from the provider (a product is a few KiB): a longer one fails the attempt. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * A 429's pause when its Retry-After asks for less (0, a past date): the call is not made again
 * at once. And how many 429s in a row one lookup takes before it fails (a provider that never
 * lets it through).
 */
const MIN_RATE_LIMIT_PAUSE_MS = 1_000;
const MAX_RATE_LIMITED_ANSWERS = 100;

/** An answer's body: its text, its value when the text is JSON (`undefined` when not), its content type. */
interface AnswerBody {
  text: string;
  json: unknown;
  contentType: string | null;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The answer's body, read up to {@link MAX_ANSWER_BYTES}. */
async function readBody(response: Response): Promise<AnswerBody> {
  const tooLarge = () => new Error(`the answer is over ${MAX_ANSWER_BYTES} bytes`);
  if (Number(response.headers.get('content-length')) > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body ?? []) {
    bytes += chunk.length;
    // Leaving the loop cancels the body: nothing more is read.
    if (bytes > MAX_ANSWER_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const contentType = response.headers.get('content-type');
  try {
    return { text, json: text === '' ? undefined : (JSON.parse(text) as unknown), contentType };
  } catch {
    return { text, json: undefined, contentType };
  }
}

/** The provider's own words on an answer (its `error`, or its text), quoted as {@link providerWords} says. */
const errorOf = ({ text, json }: AnswerBody, fallback: string, apiKey: string | undefined): string => {
  const message = isObject(json) && typeof json.error === 'string' ? json.error : json === undefined ? text : typeof json === 'string' ? json : '';
  return message.trim() !== '' ? providerWords(message, apiKey) : fallback;
};

/**
 * The provider tells its two 429s apart (API.md §4): the per-minute limit sends Retry-After, the
 * monthly quota sends none and a body `{error, limit, tier}`. A 429 with Retry-After is the
 * quota only when its body is the quota's, with `limit` and `tier`.
 */
function isQuotaBody({ json }: AnswerBody): boolean {
  return isObject(json) && 'limit' in json && 'tier' in json;
}

function quotaOutcome(body: AnswerBody, apiKey: string | undefined): Extract<LookupOutcome, { kind: 'quota' }> {
  const quota = isObject(body.json) ? body.json : {};
  return {
    kind: 'quota',
    error: errorOf(body, 'Monthly quota exceeded.', apiKey),
    limit: typeof quota.limit === 'number' ? quota.limit : null,
    tier: typeof quota.tier === 'string' && quota.tier.trim() !== '' ? providerWords(quota.tier, apiKey) : null,
  };
}

/**
 * Why a 2xx answer holds no product: its body is not a JSON object. Such an answer comes from a
 * proxy or a fault of the provider (an HTML error page, a cut body), so it is retried like a 5xx.
 * The content type is named; the body itself is not quoted.
 */
function notAnObject({ text, json, contentType }: AnswerBody): string {
  const what =
    text.trim() === '' ? 'empty'
    : json === undefined ? 'not JSON'
    : Array.isArray(json) ? 'a JSON array'
    : `a JSON ${json === null ? 'null' : typeof json}`;
  const type = contentType ? `Content-Type ${contentType.trim().slice(0, 100)}` : 'no Content-Type';
  return `the answer is not a JSON object: it is ${what} (${type})`;
}

/**
 * A signal that aborts with a `TimeoutError` after `ms`, held by its own timer until `clear`.
 * Not `AbortSignal.timeout`: inside `AbortSignal.any` nothing holds that signal strongly, and
 * Node 20 may collect it, and cancel its timer, before it fires (nodejs/node#57736), so a
 * call would wait for the provider past its timeout.
 */
function timeoutSignal(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** What an answer of the provider was: the provider calls metric counts it, and {@link ProviderClient.lookup} acts on it. */
function callResult(status: number, body: AnswerBody, retryAfter: string | null, ean: string): ProviderCallResult {
  if (status >= 200 && status < 300) {
    if (!isObject(body.json)) return 'invalid';
    return otherEan(body.json, ean) === null ? 'found' : 'other_ean';
  }
  if (status === 404) return 'not_found';
  if (status === 429) return retryAfter === null || isQuotaBody(body) ? 'quota' : 'rate_limited';
  if (status >= 300 && status < 400) return 'redirect';
  return status < 500 ? 'refused' : 'server_error';
}

/** Client of the external EAN lookup provider, following its retry guidance (API.md §4). */
export class ProviderClient {
  private readonly baseUrl: string;
  private readonly capMs: number;
  private readonly maxAttempts: number;
  private readonly random: () => number;

  constructor(private readonly options: ProviderClientOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.capMs = options.backoffCapMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.random = options.random ?? Math.random;
  }

  /**
   * Looks `ean` up. A 429 with Retry-After pauses every worker process for that long (a second at
   * least; the back-off when it cannot be read) and the call is made again without using up an attempt, up to
   * {@link MAX_RATE_LIMITED_ANSWERS} times; 5xx, network errors, timeouts, answers over
   * {@link MAX_ANSWER_BYTES} and 2xx answers whose body is not a JSON object (not JSON at all, an
   * array…: a proxy's page or a provider fault, whatever the content type says) are retried with
   * back-off up to `maxAttempts`. A JSON object is read whatever its content type; one whose
   * product names another EAN (`ean`, `gtin`) is not used (`other_ean`). A redirect is not
   * followed (it would take the key elsewhere): it refuses like a 4xx. Rejects only when `signal`
   * aborts. Once `stop` aborts, no call is started and none retried (`stopped`), but a call on
   * the wire still gets its answer (within `timeoutMs`): the provider has counted it.
   */
  async lookup(ean: string, signal: AbortSignal, stop?: AbortSignal): Promise<LookupOutcome> {
    let attempts = 0;
    let rateLimited = 0;
    for (;;) {
      if (!(await unlessStopped((wait) => this.options.limiter.acquire(wait), signal, stop))) return { kind: 'stopped' };
      let status: number;
      let body: AnswerBody;
      let retryAfter: string | null;
      const deadline = timeoutSignal(this.options.timeoutMs);
      try {
        const response = await fetch(`${this.baseUrl}/${encodeURIComponent(ean)}`, {
          headers: { accept: 'application/json', ...(this.options.apiKey ? { 'x-api-key': this.options.apiKey } : {}) },
          signal: AbortSignal.any([signal, deadline.signal]),
          redirect: 'manual',
        });
        status = response.status;
        retryAfter = response.headers.get('retry-after');
        body = await readBody(response);
      } catch (error) {
        signal.throwIfAborted();
        attempts += 1;
        const timedOut = (error as Error).name === 'TimeoutError';
        this.options.onCall?.(timedOut ? 'timeout' : 'network');
        const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : describeNetworkError(error, this.options.apiKey);
        if (attempts >= this.maxAttempts) return { kind: 'failed', attempts, reason };
        if (!(await this.backOff(attempts, signal, stop))) return { kind: 'stopped' };
        continue;
      } finally {
        deadline.clear();
      }
      const result = callResult(status, body, retryAfter, ean);
      this.options.onCall?.(result);
      let reason: string;
      if (result === 'found') return { kind: 'found', fields: mapProviderProduct(body.json as Record<string, unknown>, body.text) };
      if (result === 'other_ean') return { kind: 'other_ean', ean: providerWords(otherEan(body.json as Record<string, unknown>, ean)!, this.options.apiKey) };
      if (result === 'not_found') return { kind: 'not_found' };
      if (result === 'quota') return quotaOutcome(body, this.options.apiKey);
      if (result === 'redirect') return { kind: 'refused', status, error: `HTTP ${status}: a redirect, which is not followed` };
      if (result === 'refused') return { kind: 'refused', status, error: errorOf(body, `HTTP ${status}`, this.options.apiKey) };
      if (result === 'rate_limited') {
        rateLimited += 1;
        if (rateLimited >= MAX_RATE_LIMITED_ANSWERS) return { kind: 'failed', attempts: rateLimited, reason: `HTTP 429 ${rateLimited} times in a row` };
        // A Retry-After it cannot read still says "later": the back-off stands in for it.
        const waitMs = retryAfterMs(retryAfter) ?? backoffMs(rateLimited, this.options.backoffBaseMs, this.capMs, this.random);
        await this.options.limiter.pause(Math.max(MIN_RATE_LIMIT_PAUSE_MS, waitMs));
        continue;
      }
      if (result === 'invalid') reason = `HTTP ${status}, but ${notAnObject(body)}`;
      else reason = `HTTP ${status}: ${errorOf(body, 'server error', this.options.apiKey)}`;
      attempts += 1;
      if (attempts >= this.maxAttempts) return { kind: 'failed', attempts, reason };
      if (!(await this.backOff(attempts, signal, stop))) return { kind: 'stopped' };
    }
  }

  /** Waits out the back-off after failed attempt `attempts`; false when `stop` aborts first. */
  private backOff(attempts: number, signal: AbortSignal, stop: AbortSignal | undefined): Promise<boolean> {
    const ms = backoffMs(attempts, this.options.backoffBaseMs, this.capMs, this.random);
    return unlessStopped((wait) => sleep(ms, undefined, { signal: wait }), signal, stop);
  }
}

/**
 * Runs `wait` (for a slot of the rate, or a back-off) with a signal that aborts on `signal` or
 * `stop`. True once it is over; false when `stop` aborted first. Rejects when `signal` aborts.
 */
async function unlessStopped(
  wait: (signal: AbortSignal) => Promise<unknown>,
  signal: AbortSignal,
  stop: AbortSignal | undefined,
): Promise<boolean> {
  if (stop?.aborted) return false;
  try {
    await wait(stop ? AbortSignal.any([signal, stop]) : signal);
    // A wait that ended as `stop` aborted still makes no call.
    return !stop?.aborted;
  } catch (error) {
    signal.throwIfAborted();
    if (stop?.aborted) return false;
    throw error;
  }
}

/** Anything written like a URL (`scheme://…`), which may carry a user name and password. */
const URL_LIKE = /\b[a-z][a-z\d+.-]*:\/\/\S*/gi;

/**
 * Why a call got no answer: the network error's code (`ECONNREFUSED`), else its message, without
 * the URLs in it (a TypeError of fetch quotes the whole URL, user name and password included),
 * quoted as {@link providerWords} says.
 */
function describeNetworkError(error: unknown, apiKey: string | undefined): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  // Replaced after the cut: the pattern then reads 200 characters at most.
  return providerWords(cause?.code ?? cause?.message ?? (error as Error).message, apiKey).replace(URL_LIKE, '[URL]');
}
