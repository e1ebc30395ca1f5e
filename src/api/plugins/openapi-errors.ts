import type { ErrorCode } from '../../shared/http/app-error.js';
import type { ResponseNotes } from '../../shared/http/response-notes.js';
import { sentencesOf } from './openapi-error-strings.js';
import type { RouteAudience } from './openapi-headers.js';

/**
 * The `error_code` values of each error response in the OpenAPI document: those its status always
 * means for the route's audience, plus those the route names with `errorCodes(status, …)`.
 */

/** What each code means, as API.md §1 tells it; a status may tell its own (`414 BAD_REQUEST`). */
const MEANINGS: Partial<Record<ErrorCode | `${number} ${ErrorCode}`, string>> = {
  BAD_REQUEST: 'the request is malformed: its JSON body, its URL, a query parameter, a header or a value it names',
  '414 BAD_REQUEST': 'a path parameter is longer than 100 characters',
  VALIDATION_ERROR: 'a field is invalid; `errors` lists every problem',
  '422 VALIDATION_ERROR': 'the request cannot be carried out as sent: a field is invalid (`errors` lists every problem), '
    + 'an Idempotency-Key was used with another request, or a job cannot run again',
  AUTHENTICATION_REQUIRED: 'no key was sent',
  INVALID_API_KEY: 'the key was never issued, was revoked, or does not match',
  API_KEY_EXPIRED: "the key's (or session's) expiry has passed",
  INVALID_CREDENTIALS: 'wrong email or password',
  EMAIL_NOT_VERIFIED: "the account's email is not verified yet",
  ACCOUNT_SUSPENDED: 'the account is suspended',
  PERMISSION_DENIED: 'the key lacks the scope this needs',
  NOT_FOUND: 'nothing of that id here (another account\'s resources included)',
  DUPLICATE_EAN: 'a product with this EAN exists already',
  DUPLICATE_NAME: 'another import profile of the account has this name',
  EMAIL_TAKEN: 'an account with this email exists already',
  JOB_NOT_FINISHED: 'the job has not ended yet',
  LIMIT_EXCEEDED: 'the account has as many as it may have; `limit` says how many',
  ACCOUNT_LOCKED: 'too many failed logins; `retry_after_seconds` says when to try again',
  RATE_LIMIT_EXCEEDED: 'a per-minute limit (of the tier, or of this address without a valid key) or of open responses is reached',
  QUOTA_EXCEEDED: "the tier's monthly quota is used up; `limit`, `tier`, and `retry_after_seconds` until the next month",
  PAYLOAD_TOO_LARGE: 'the body is over its limit; `limit_bytes` (or the multipart `limit_…` fields) say it',
  RANGE_NOT_SATISFIABLE: 'the `Range` selects no byte of the file (it starts at or past its end); `Content-Range: bytes */<size>` gives its size',
  REQUEST_TIMEOUT: 'the request (its headers, or its body) did not arrive in time',
  REQUEST_HEADERS_TOO_LARGE: 'the request headers are too large',
  UNSUPPORTED_MEDIA_TYPE: "the body's Content-Type (or Content-Encoding, or charset) is not one this takes",
  INTERNAL_ERROR: 'unexpected; the answer carries `X-Request-Id`, under which it is logged',
  SERVICE_UNAVAILABLE: 'PostgreSQL, Redis or the file store cannot be reached, or this server is closing or too busy; nothing was half done',
};

const KEY_REFUSED: ErrorCode[] = ['AUTHENTICATION_REQUIRED', 'INVALID_API_KEY', 'API_KEY_EXPIRED'];
const ACCOUNT_REFUSED: ErrorCode[] = ['PERMISSION_DENIED', 'EMAIL_NOT_VERIFIED', 'ACCOUNT_SUSPENDED'];

/** The codes a status always means where a key is checked; a 409 never (its route names it). */
const USUAL_CODES: Partial<Record<number, ErrorCode[]>> = {
  400: ['BAD_REQUEST'],
  401: KEY_REFUSED,
  403: ACCOUNT_REFUSED,
  404: ['NOT_FOUND'],
  408: ['REQUEST_TIMEOUT'],
  413: ['PAYLOAD_TOO_LARGE'],
  414: ['BAD_REQUEST'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  416: ['RANGE_NOT_SATISFIABLE'],
  422: ['VALIDATION_ERROR'],
  423: ['ACCOUNT_LOCKED'],
  429: ['RATE_LIMIT_EXCEEDED', 'QUOTA_EXCEEDED'],
  431: ['REQUEST_HEADERS_TOO_LARGE'],
  500: ['INTERNAL_ERROR'],
  503: ['SERVICE_UNAVAILABLE'],
};

/** The codes a status always means: on a route that checks no key, no 401 or 403, and no quota. */
function usualCodes(status: number, audience: RouteAudience): ErrorCode[] {
  if (audience === 'public') {
    if (status === 401 || status === 403) return [];
    if (status === 429) return ['RATE_LIMIT_EXCEEDED'];
  }
  return USUAL_CODES[status] ?? [];
}

/** The codes of the error response of `status`: the usual ones, then those the route named. */
export function errorCodesOf(status: number, audience: RouteAudience, named: readonly ErrorCode[] = []): ErrorCode[] {
  return [...new Set([...usualCodes(status, audience), ...named])];
}

/**
 * The `error` sentences of `code` in a response: those the route noted (all it answers with),
 * else those the code has everywhere (openapi-error-strings.ts), with what its others say.
 */
function sentencesText(status: number, code: ErrorCode, noted: readonly string[] | undefined): string {
  const quoted = (sentences: readonly string[]) => sentences.map((sentence) => `\`${sentence}\``).join(', ');
  if (noted) return `. \`error\`: ${quoted(noted)}`;
  const row = sentencesOf(status, code);
  if (!row || row.sentences.length === 0) return '';
  return `. \`error\`: ${quoted(row.sentences)}${row.otherwise ? `; others: ${row.otherwise}` : ''}`;
}

/** The response's description: each code it can carry, with what it means there and its `error` sentences. */
export function describeCodes(status: number, codes: readonly ErrorCode[], sentences: ResponseNotes['sentences'] = {}): string {
  const lines = codes.map(
    (code) => `- \`${code}\`: ${MEANINGS[`${status} ${code}`] ?? MEANINGS[code] ?? ''}${sentencesText(status, code, sentences[code])}`,
  );
  return lines.join('\n');
}

/**
 * The body schema of an error response: the `Error` envelope, its `error_code` one of `codes`.
 * `envelope` is the envelope's schema as generated (a `$ref` to the component).
 */
export function errorBodySchema(envelope: unknown, codes: readonly ErrorCode[]): Record<string, unknown> {
  return { allOf: [envelope, { type: 'object', properties: { error_code: { type: 'string', enum: [...codes] } } }] };
}
