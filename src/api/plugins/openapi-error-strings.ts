import type { ErrorCode } from '../../shared/http/app-error.js';
import {
  INVALID_KEY_ATTEMPTS,
  PER_MINUTE_EXCEEDED,
  UNAUTHENTICATED_REQUESTS,
  accountLockedMessage,
  accountSuspended,
  apiKeyExpired,
  authenticationRequired,
  duplicateEan,
  emailNotVerified,
  emailTaken,
  idempotencyKeyReused,
  importNotEnded,
  internalError,
  invalidApiKey,
  invalidCredentials,
  jobNotFinished,
  jobNotFound,
  perAddressMessage,
  permissionDenied,
  productNotFound,
  quotaExceeded,
  requestHeadersTooLarge,
  serviceUnavailable,
} from '../errors.js';
import { dashboardClosed, dashboardSignIn } from '../dashboard.js';
import { metricsTokenRequired } from '../../shared/http/metrics-route.js';
import { fileFieldNotAFile, noFileField } from '../multipart-form.js';
import { HELD_BY_JOB } from '../../shared/http/error-handler.js';
import { PRODUCT_HELD_MESSAGE } from '../product-writes.js';

/**
 * The `error` sentences of each error code, for the OpenAPI document. Each is built by the
 * constructor that sends it (with `{…}` for a variable part), so the document, and docs/ made
 * from it, change with the code: `npm run docs:check` tells when a sentence changed.
 */

/** One error code at one status and what its `error` says. */
export interface CodeSentences {
  status: number;
  code: ErrorCode;
  /** Sentences the code is sent with wherever it arises, exactly (`{…}`: a variable part). */
  sentences: readonly string[];
  /** The code's other sentences, when {@link sentences} are not all of them: what they say. */
  otherwise?: string;
  /** Sentences of the code on the web pages only (the Errors table lists them; an API route never sends them). */
  pages?: string;
}

const code = (sentence: string) => `\`${sentence}\``;

/** Every error code of the API, by status, with its sentences. */
export const ERROR_SENTENCES: readonly CodeSentences[] = [
  {
    status: 400,
    code: 'BAD_REQUEST',
    sentences: [],
    otherwise:
      "names the parameter, header or field, and what it takes, such as, for an import's multipart body, " +
      `${code(noFileField().message)} and ${code(fileFieldNotAFile().message)}`,
  },
  { status: 400, code: 'VALIDATION_ERROR', sentences: [], otherwise: "a signup, login or key body's first problem, naming the field; all are in `errors`" },
  {
    status: 401,
    code: 'AUTHENTICATION_REQUIRED',
    sentences: [authenticationRequired().message, metricsTokenRequired().message],
    pages: `on the queue dashboard: ${code(dashboardClosed().message)}, ${code(dashboardSignIn().message)}`,
  },
  { status: 401, code: 'INVALID_API_KEY', sentences: [invalidApiKey().message] },
  { status: 401, code: 'API_KEY_EXPIRED', sentences: [apiKeyExpired().message] },
  { status: 401, code: 'INVALID_CREDENTIALS', sentences: [invalidCredentials().message] },
  { status: 403, code: 'EMAIL_NOT_VERIFIED', sentences: [emailNotVerified().message] },
  { status: 403, code: 'ACCOUNT_SUSPENDED', sentences: [accountSuspended().message] },
  {
    status: 403,
    code: 'PERMISSION_DENIED',
    sentences: [permissionDenied('{scope}').message],
    otherwise: 'why else the credential may not do this (a login session or the operator key where neither is taken, a key granting more than it holds)',
  },
  {
    status: 404,
    code: 'NOT_FOUND',
    sentences: [],
    otherwise: `names what was not found: ${code(productNotFound().message)} for a product's EAN, ${code(jobNotFound().message)} for a job id, …`,
  },
  { status: 408, code: 'REQUEST_TIMEOUT', sentences: [], otherwise: 'says what did not arrive in time' },
  { status: 409, code: 'DUPLICATE_EAN', sentences: [duplicateEan().message] },
  { status: 409, code: 'DUPLICATE_NAME', sentences: [], otherwise: 'names the import profile name taken' },
  { status: 409, code: 'EMAIL_TAKEN', sentences: [emailTaken().message] },
  { status: 409, code: 'JOB_NOT_FINISHED', sentences: [jobNotFinished().message, importNotEnded().message], otherwise: "a retry's, saying why the job cannot run again yet" },
  { status: 409, code: 'LIMIT_EXCEEDED', sentences: [], otherwise: 'says which limit (`limit`: how many)' },
  { status: 413, code: 'PAYLOAD_TOO_LARGE', sentences: [], otherwise: 'says the limit in bytes' },
  { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', sentences: [], otherwise: 'names the Content-Type, Content-Encoding or charset refused, and what to send' },
  {
    status: 416,
    code: 'RANGE_NOT_SATISFIABLE',
    sentences: [],
    otherwise: "a result download's `Range` that starts past the file's end: gives the file's size in bytes and says to ask within it or send no `Range`",
  },
  {
    status: 422,
    code: 'VALIDATION_ERROR',
    sentences: [],
    otherwise:
      `a product body's first problem (all are in \`errors\`), such as \`The EAN field is required.\`; ` +
      `${code(idempotencyKeyReused().message)}; or why a job cannot run again`,
  },
  { status: 423, code: 'ACCOUNT_LOCKED', sentences: [accountLockedMessage('{seconds}')] },
  {
    status: 429,
    code: 'RATE_LIMIT_EXCEEDED',
    sentences: [PER_MINUTE_EXCEEDED, perAddressMessage(UNAUTHENTICATED_REQUESTS, '{seconds}'), perAddressMessage(INVALID_KEY_ATTEMPTS, '{seconds}')],
    otherwise: '`Too many open …` when too many downloads or event streams of the account are open at once',
  },
  { status: 429, code: 'QUOTA_EXCEEDED', sentences: [quotaExceeded(0, 'FREE', 0).message] },
  { status: 431, code: 'REQUEST_HEADERS_TOO_LARGE', sentences: [requestHeadersTooLarge().message] },
  { status: 500, code: 'INTERNAL_ERROR', sentences: [internalError().message] },
  {
    status: 503,
    code: 'SERVICE_UNAVAILABLE',
    sentences: [serviceUnavailable().message],
    otherwise:
      'naming the service that cannot be reached (the job queue, the file storage), saying this server is closing or too busy, ' +
      `or that a running job holds what the request writes: ${code(HELD_BY_JOB)}, for a product ${code(PRODUCT_HELD_MESSAGE)}`,
  },
];

/** The sentences of `code` at `status`; at a status the table does not list for it, those of its first row. */
export function sentencesOf(status: number, errorCode: ErrorCode): CodeSentences | undefined {
  return ERROR_SENTENCES.find((row) => row.status === status && row.code === errorCode) ?? ERROR_SENTENCES.find((row) => row.code === errorCode);
}

/** What `error` says in one row: its sentences, then what the others say. */
function sentencesCell(row: CodeSentences): string {
  const exact = row.sentences.map(code);
  const others = row.otherwise && (exact.length > 0 ? `others: ${row.otherwise}` : row.otherwise);
  return [...exact, others, row.pages].filter(Boolean).join('<br>');
}

/** The Errors section of the document's introduction: one row per status and code. */
export function errorsSection(): string {
  const rows = ERROR_SENTENCES.map((row) => `| ${row.status} | \`${row.code}\` | ${sentencesCell(row)} |`);
  return [
    '## Errors',
    '',
    "Every error's body is the `Error` schema: `error` and `detail` carry the same sentence. The sentences below are exact, " +
      '`{…}` standing for a variable part (a number of seconds, a scope); where a code has other sentences, the table says ' +
      "what they say. Each operation's error responses list the codes (and sentences) it can answer with.",
    '',
    '| Status | `error_code` | `error` |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}
