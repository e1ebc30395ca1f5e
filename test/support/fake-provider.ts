import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the external EAN lookup provider (a third party we do not run): a real HTTP
 * server on a free port that answers `GET /{ean}` the way such services do, with scripted
 * answers, an optional per-minute limit and monthly quota, and a record of every call.
 */

/** One scripted answer. */
export type FakeAnswer =
  | { status: 200; body: unknown; delayMs?: number }
  /** A 200 whose body is sent as is, with this content type (an HTML page, broken JSON). */
  | { status: 200; raw: string; contentType: string; delayMs?: number }
  | { status: 404; delayMs?: number }
  /** 401, 403 or another refusal; `error` goes in the body. */
  | { status: 400 | 401 | 403 | 422; error: string; delayMs?: number }
  /** Per-minute limit: 429 with Retry-After in seconds. */
  | { status: 429; retryAfterSeconds: number; delayMs?: number }
  /** Monthly quota: 429 with `{error, limit, tier}` and no Retry-After. */
  | { status: 429; quota: { limit: number; tier: string }; delayMs?: number }
  /**
   * A 429 with this Retry-After header as sent (readable or not), and the per-minute body, or the
   * quota's `{error, limit, tier}` when `quota` is given.
   */
  | { status: 429; retryAfter: string; quota?: { limit: number; tier: string }; delayMs?: number }
  | { status: 500 | 502 | 503; delayMs?: number }
  /** A network failure: the connection is dropped without an answer (recorded as status 0). */
  | { status: 0; delayMs?: number }
  /** Any status with this JSON body (sent as `text` when given: a body prepared once) and these headers. */
  | { status: number; json: unknown; text?: string; headers?: Record<string, string>; delayMs?: number };

/** One call the provider received. */
export interface FakeCall {
  ean: string;
  /** Arrival time, ms since the epoch (fractional). */
  at: number;
  apiKey: string | undefined;
  status: number;
}

export interface FakeProviderOptions {
  /** When set, calls without this X-API-Key get 401 `{error: "Invalid API key"}`. */
  apiKey?: string;
  /**
   * The provider's own rate limit: a token bucket refilled at `perMinute` holding `burst` calls
   * (default one second's worth, at least 2), which absorbs network and scheduling jitter like
   * an API gateway does while any sustained excess over `perMinute` still gets 429s.
   */
  rateLimit?: { perMinute: number; burst?: number };
  /** Answer every call after this many 200s with the monthly-quota 429. */
  monthlyQuota?: { limit: number; tier: string };
  /** Delay of every answer (a slow provider). */
  delayMs?: number;
}

export class FakeProvider {
  readonly calls: FakeCall[] = [];
  /** The products it knows, by EAN. */
  readonly products = new Map<string, Record<string, unknown>>();
  private readonly perEan = new Map<string, FakeAnswer[]>();
  private readonly next: FakeAnswer[] = [];
  private served = 0;
  private bucket: { tokens: number; at: number } | null = null;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: FakeProviderOptions,
  ) {}

  /** Starts the server on a free port of 127.0.0.1. */
  static async start(options: FakeProviderOptions = {}): Promise<FakeProvider> {
    const holder: { provider?: FakeProvider } = {};
    const server = createServer((request, response) => holder.provider!.handle(request, response));
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    holder.provider = new FakeProvider(server, `http://127.0.0.1:${port}`, options);
    return holder.provider;
  }

  /** Scripts the next answers for one EAN (used up in order, then the default answer). */
  script(ean: string, ...answers: FakeAnswer[]): void {
    this.perEan.set(ean, [...(this.perEan.get(ean) ?? []), ...answers]);
  }

  /** Scripts the next answers to any call, before per-EAN scripts and the default. */
  scriptNext(...answers: FakeAnswer[]): void {
    this.next.push(...answers);
  }

  /** Calls answered with `status` (all calls when omitted). */
  count(status?: number): number {
    return status === undefined ? this.calls.length : this.calls.filter((call) => call.status === status).length;
  }

  /** Forgets calls and scripts (not the products). */
  reset(): void {
    this.calls.length = 0;
    this.perEan.clear();
    this.next.length = 0;
    this.served = 0;
    this.bucket = null;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const at = performance.timeOrigin + performance.now();
    const ean = decodeURIComponent((request.url ?? '/').split('?')[0]!.slice(1));
    const apiKey = request.headers['x-api-key'] as string | undefined;
    const answer = this.answerFor(ean, apiKey, at);
    const call: FakeCall = { ean, at, apiKey, status: answer.status };
    this.calls.push(call);
    const send = () => {
      if (response.destroyed) return;
      if (answer.status === 0) {
        request.socket.destroy();
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'raw' in answer ? answer.contentType : 'application/json' };
      if ('retryAfterSeconds' in answer) headers['retry-after'] = String(answer.retryAfterSeconds);
      if ('retryAfter' in answer) headers['retry-after'] = answer.retryAfter;
      if ('headers' in answer) Object.assign(headers, answer.headers);
      const text = 'json' in answer ? (answer.text ?? JSON.stringify(answer.json)) : 'raw' in answer ? answer.raw : JSON.stringify(bodyOf(answer));
      response.writeHead(answer.status, headers).end(text);
    };
    const delay = answer.delayMs ?? this.options.delayMs ?? 0;
    if (delay > 0) setTimeout(send, delay);
    else send();
  }

  private answerFor(ean: string, apiKey: string | undefined, at: number): FakeAnswer {
    if (this.options.apiKey !== undefined && apiKey !== this.options.apiKey) return { status: 401, error: 'Invalid API key' };
    const scripted = this.next.shift() ?? this.perEan.get(ean)?.shift();
    if (scripted) return scripted;
    if (this.options.rateLimit && !this.takeToken(at)) {
      return { status: 429, retryAfterSeconds: 1 };
    }
    if (this.options.monthlyQuota && this.served >= this.options.monthlyQuota.limit) {
      return { status: 429, quota: this.options.monthlyQuota };
    }
    const product = this.products.get(ean);
    if (!product) return { status: 404 };
    this.served += 1;
    return { status: 200, body: product };
  }

  /** Token bucket: `burst` tokens, refilled at perMinute/60,000 per ms; starts full. */
  private takeToken(at: number): boolean {
    const { perMinute, burst = Math.max(2, Math.floor(perMinute / 60)) } = this.options.rateLimit!;
    const bucket = (this.bucket ??= { tokens: burst, at });
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) * perMinute) / 60_000);
    bucket.at = at;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

function bodyOf(answer: Exclude<FakeAnswer, { json: unknown }>): unknown {
  switch (answer.status) {
    case 200:
      return 'body' in answer ? answer.body : answer.raw;
    case 404:
      return { error: 'Product not found' };
    case 429:
      return 'quota' in answer && answer.quota
        ? { error: 'Monthly quota exceeded.', limit: answer.quota.limit, tier: answer.quota.tier }
        : { error: 'Per-minute rate limit exceeded.' };
    case 500:
    case 502:
    case 503:
      return { error: 'Internal server error' };
    case 0:
      return null;
    default:
      return { error: answer.error };
  }
}
