import { isIP } from 'node:net';
import { z } from 'zod';
import { isPrivateAddress } from './address-ranges.js';
import type { HostResolver, ResolvedAddress } from './host-resolver.js';

export { isPrivateAddress } from './address-ranges.js';

/**
 * Why a URL naming port 0 is refused: Node's request would send it to the scheme's default port
 * (`port || 80`), a receiver the client did not name.
 */
const PORT_ZERO = "must not name port 0: give the receiver's port (1 to 65535), or none for the scheme's default";

/** Whether `url` names port 0 (`:0`, `:00`…, as the URL parser normalizes them). */
function namesPortZero(url: URL): boolean {
  return url.port === '0';
}

/**
 * What the OpenAPI document says of `callback_url`, on every route that takes it (README "Job
 * callbacks" says it at length): the one place a client reading only the document learns how
 * callbacks are sent and verified.
 */
export const CALLBACK_URL_DESCRIPTION = [
  'Where the job resource is POSTed as JSON when the job ends (completed, failed or cancelled; a retried job again when its new run ends). ' +
    'Not shown by the job resource. An export schedule ignores it: its runs do not call back.',
  'Headers: `X-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is HMAC-SHA256 of `<t>.<raw body>` with the account\'s secret ' +
    '(POST /v1/callback-secret; during a rotation\'s grace period a second `v1=` with the previous one; accept if any matches, ' +
    'and refuse a `t` older than 5 minutes), `X-Job-Id: <job id>`, `User-Agent: catalog-jobs-callback/1`, ' +
    '`Content-Type: application/json; charset=utf-8`.',
  'At least once: a receiver slower than the 10 s timeout, or a worker stopped mid-send, gets the same run again, freshly signed; ' +
    'de-duplicate and order on (`X-Job-Id`, the body\'s `finished_at`). Any answer but 2xx (3xx: redirects are not followed; 4xx; 5xx; ' +
    'a timeout) is retried with a doubling delay from `CALLBACK_RETRY_BASE_SECONDS` (default 5 s, at most an hour apart) until ' +
    '`CALLBACK_MAX_ATTEMPTS` (default 10, over about 43 minutes) have failed; the job resource does not show delivery state, ' +
    'so poll `GET /v1/jobs/{id}` if a callback may be missed.',
  'An absolute http(s) URL without user name or password, not on port 0. Its host must resolve to public addresses only: private, ' +
    'loopback, link-local and other non-public addresses are refused with 400 unless the operator set `CALLBACK_ALLOW_PRIVATE=true`.',
].join('\n\n');

/**
 * `callback_url` as a client sends it: an absolute http(s) URL without credentials, on a port it
 * can be sent to. Each message starts with `subject`: a query parameter's is named by its 400, a
 * body's field names itself. Described by {@link CALLBACK_URL_DESCRIPTION} wherever it is taken.
 */
export function callbackUrlSchemaOf(subject = '') {
  // Zod runs the refinements after a failed format check too: a value that is no URL has its problem already.
  const parsed = (value: string): URL | null => (URL.canParse(value) ? new URL(value) : null);
  return z
    .url({ protocol: /^https?$/, error: `${subject}must be an absolute http or https URL` })
    .max(2048, { error: `${subject}must be at most 2048 characters` })
    .refine((value) => {
      const url = parsed(value);
      return !url || (url.username === '' && url.password === '');
    }, `${subject}must not carry a user name or password`)
    .refine((value) => {
      const url = parsed(value);
      return !url || !namesPortZero(url);
    }, `${subject}${PORT_ZERO}`)
    .meta({ description: CALLBACK_URL_DESCRIPTION });
}

export const callbackUrlSchema = callbackUrlSchemaOf();

/** Which callback targets may be reached, and how their names are resolved. */
export interface CallbackTargetPolicy {
  /** CALLBACK_ALLOW_PRIVATE: private and loopback targets allowed (tests, private networks). */
  allowPrivate: boolean;
  resolveHost: HostResolver;
}

/** The host of a URL as an address or a name: IPv6 literals without their brackets. */
function callbackHost(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

/**
 * Why a host resolved to `addresses` may not be called (unless private targets are allowed), or
 * null. An address the client wrote (an IP literal, no `name`) is named; one a name resolved to is
 * not: the answer would tell any account the addresses of the service's own network.
 */
export function privateAddressProblem(addresses: readonly ResolvedAddress[], name?: string): string | null {
  const refused = addresses.find((entry) => isPrivateAddress(entry.address));
  if (!refused) return null;
  return name === undefined ? `it points at the private or loopback address ${refused.address}` : `its host '${name}' resolves to a private or loopback address`;
}

/**
 * Why `url` may not receive callbacks, or null when it may: its host must resolve, and (unless
 * private targets are allowed) only to public addresses. This answers early with a clear reason
 * (at acceptance, and before each delivery); what makes it hold at connection time is the pinned
 * lookup of the delivery agent, which checks the addresses it actually connects to.
 */
export async function callbackTargetProblem(url: string, policy: CallbackTargetPolicy): Promise<string | null> {
  // A job accepted before port 0 was refused: never sent to the default port instead.
  if (namesPortZero(new URL(url))) return `it ${PORT_ZERO.replace(/^must not name/, 'names')}`;
  if (policy.allowPrivate) return null;
  const host = callbackHost(url);
  const family = isIP(host);
  if (family !== 0) return privateAddressProblem([{ address: host, family: family === 6 ? 6 : 4 }]);
  let addresses: ResolvedAddress[];
  try {
    addresses = await policy.resolveHost(host);
  } catch {
    return `its host '${host}' does not resolve`;
  }
  if (addresses.length === 0) return `its host '${host}' resolves to no address`;
  return privateAddressProblem(addresses, host);
}
