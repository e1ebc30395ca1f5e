import type { ResponseHeader } from '../../shared/http/response-notes.js';

/**
 * Who a route answers, as far as the limits of API.md §1 go: an account's key or session
 * (`account`: counted, so its answers carry the rate-limit headers), the operator key (`operator`:
 * counted against no tier), or anyone (`public`: limited per client address only).
 */
export type RouteAudience = 'account' | 'operator' | 'public';

const requestCount = (description: string): ResponseHeader => ({
  description,
  type: 'integer',
  format: 'int64',
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
});
/** The limits count in one-minute windows, so no wait is longer than a minute. */
const secondsInWindow = (description: string): ResponseHeader => ({ description, type: 'integer', format: 'int32', minimum: 0, maximum: 60 });

/** The rate-limit headers are set when a request is counted: after its key was checked, before its route runs. */
const COUNTED = ' Sent once the request was counted: not with a refusal before that, nor to the operator key (see the API description).';

/**
 * The limit headers, each written once under components.headers: the rate-limit headers of API.md
 * §1 (the per-minute limit of the key's tier, what is left of it, when the window resets) and
 * Retry-After.
 */
export const LIMIT_HEADER_COMPONENTS: Record<string, ResponseHeader> = {
  RateLimitLimit: requestCount(`Requests a minute allowed to the key's tier.${COUNTED}`),
  RateLimitRemaining: requestCount(`Requests left in the current minute.${COUNTED}`),
  RateLimitReset: secondsInWindow(`Seconds until the current minute ends and the count starts again.${COUNTED}`),
  // Every 429 but QUOTA_EXCEEDED, whose body says when the month resets.
  RetryAfter: secondsInWindow('Seconds to wait before trying again; absent when the monthly quota is used up.'),
  // Every 503: a backing service is down, or this server is closing or full.
  RetryAfterUnavailable: { description: 'Seconds to wait before trying again (5).', required: true, type: 'integer', format: 'int32', minimum: 1, maximum: 60 },
};

/** A response header written under components.headers. */
export interface HeaderRef {
  $ref: string;
}

const ref = (name: keyof typeof LIMIT_HEADER_COMPONENTS & string): HeaderRef => ({ $ref: `#/components/headers/${name}` });

const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': ref('RateLimitLimit'),
  'X-RateLimit-Remaining': ref('RateLimitRemaining'),
  'X-RateLimit-Reset': ref('RateLimitReset'),
};

/**
 * Refused before any key is counted, so never with the rate-limit headers: a missing, unknown or
 * expired key (401), a path parameter the router refuses (414), headers Node refuses (431).
 */
const NEVER_COUNTED = new Set(['401', '414', '431']);

/**
 * Only an account's key is counted on an operator route: it is refused there (403), or over its
 * limits first (429). The operator key itself is counted against no tier.
 */
const OPERATOR_ROUTE_COUNTED = new Set(['403', '429']);

function rateLimitHeadersOf(status: string, audience: RouteAudience): Record<string, HeaderRef> {
  if (audience === 'public' || NEVER_COUNTED.has(status)) return {};
  if (audience === 'operator' && !OPERATOR_ROUTE_COUNTED.has(status)) return {};
  return RATE_LIMIT_HEADERS;
}

/**
 * The limit headers on the response of `status` (`200`, `404`, …) of a route answering
 * `audience`: the rate-limit headers wherever a counted request can get that status (a 500 or
 * 503 of a request already counted carries them too), and Retry-After on every 429 and 503.
 * Empty when there are none.
 */
export function limitHeaders(status: string, audience: RouteAudience): Record<string, HeaderRef> {
  const retryAfter = status === '429' ? ref('RetryAfter') : status === '503' ? ref('RetryAfterUnavailable') : undefined;
  return { ...rateLimitHeadersOf(status, audience), ...(retryAfter ? { 'Retry-After': retryAfter } : {}) };
}
