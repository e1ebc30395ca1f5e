import { CliError, EXIT } from './exit-codes.js';

/**
 * The failure of a 3xx answer. The service redirects none of its routes but a download's, so a
 * redirect comes from in front of it (http to https, a host that moved). Following it would send an
 * upload again to an address nobody named, and fetch drops the key on the way to another origin
 * (the answer would be "Missing API key"). No retry changes it, the configured address does: a
 * usage error (exit 2) that names where the redirect points.
 */
export function redirectFailure(response: Response, url: URL, path: string): CliError {
  const location = response.headers.get('location');
  const requestId = response.headers.get('x-request-id');
  if (location === null || !URL.canParse(location, url.href)) {
    return new CliError(`The service answered ${response.status}, a redirect without a usable Location; check CATALOG_URL or --url.`, EXIT.usage, null, requestId);
  }
  const target = new URL(location, url);
  const base = target.pathname.endsWith(path) ? `${target.origin}${target.pathname.slice(0, -path.length)}` : null;
  const advice = base ? `set CATALOG_URL or --url to ${base}` : 'check CATALOG_URL or --url';
  return new CliError(`The service answered ${response.status} redirecting to ${target.href}; ${advice}.`, EXIT.usage, null, requestId);
}

/**
 * Whether `error`, thrown by fetch, is its refusal of a redirect: what a request sent with
 * `redirect: 'error'` gets instead of the 3xx answer (undici's network error "unexpected redirect").
 */
export function isRefusedRedirect(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause;
  return error instanceof TypeError && cause instanceof Error && cause.message === 'unexpected redirect';
}

/**
 * The failure of an upload that was answered with a redirect. An upload is sent with
 * `redirect: 'error'`, so fetch keeps no copy of its body (see api-client.ts) and drops that
 * answer, Location included. A HEAD to the same address, without the key and without a body,
 * asks where the redirect points; when it does not answer with one, the failure says only that
 * the service redirected.
 */
export async function uploadRedirectFailure(url: URL, path: string, timeoutMs: number): Promise<CliError> {
  const probe = await fetch(url, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }).catch(() => null);
  if (probe && probe.status >= 300 && probe.status < 400) return redirectFailure(probe, url, path);
  return new CliError('The service answered the upload with a redirect; check CATALOG_URL or --url.', EXIT.usage);
}
