import { stdSerializers } from 'pino';
import { KEY_PREFIX, SESSION_PREFIX } from './accounts/api-keys.js';
import { CALLBACK_SECRET_PREFIX } from './callbacks/signature.js';

export const REDACTED = '[redacted]';

/** Request headers that carry a credential, as Node names them (lower case). */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'cookie', 'proxy-authorization'];

/**
 * Paths that may hold a credential; pino replaces their values before a line is written. A
 * request's headers are logged as `req.headers`, and by @fastify/multipart (at `trace`) as
 * `busboyOptions.headers`: `*.headers.…` covers any object that holds them one level down.
 */
export const REDACTED_PATHS = [
  ...CREDENTIAL_HEADERS.flatMap((header) => [`headers["${header}"]`, `*.headers["${header}"]`]),
  'password',
  '*.password',
  'key',
  '*.key',
  'api_key',
  '*.api_key',
  'token',
  '*.token',
];

/**
 * Query parameters whose value is a credential: the email-verification link carries `token`, and
 * a client may put a key or password in a URL by mistake. An import's `callback_url` is the
 * client's receiver, whose own address often carries its secret (`?sig=…`, a webhook path); the
 * job keeps it. Matched on the decoded name, as the router reads it (`tok%65n` is `token`).
 */
const SECRET_QUERY_PARAMETERS = new Set(['token', 'key', 'api_key', 'apikey', 'password', 'secret', 'callback_url']);

/** The alphabet of base64url, in which every credential's random part is written (`_` and `-` included). */
const BASE64URL = 'A-Za-z0-9_-';

/**
 * Characters of 32 random bytes in base64url: the secret of an API key, a session token and a
 * callback secret. An API key is `ck_<12 hex>_<43>` (or `ck_<43>`, issued before the lookup id):
 * either way 43 or more such characters follow its prefix.
 */
const CREDENTIAL_SECRET_CHARS = 43;

/**
 * Our own credentials (API keys, session tokens, callback secrets) by their shape: the prefix and
 * the random characters after it, at the start of a value or of a word in it (`Bearer ck_…`):
 * redacted whatever the parameter is called. The prefix inside a word (`tops_cs_2024`) or with
 * fewer characters after it (`ck_one`) is an ordinary value and is logged as it is.
 */
const CREDENTIAL_PATTERN = new RegExp(
  `(?:^|[^${BASE64URL}])(?:${[KEY_PREFIX, SESSION_PREFIX, CALLBACK_SECRET_PREFIX].join('|')})[${BASE64URL}]{${CREDENTIAL_SECRET_CHARS}}`,
);

/** A parameter's name or value as the router reads it: `+` a space, percent-escapes decoded. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

/** A parameter's name without the brackets of array or object syntax (`api_key[]`, `token[0]`), lower case. */
const bareName = (name: string) => decoded(name).replace(/\[.*$/s, '').trim().toLowerCase();

/** `url` with the values of its secret query parameters, and any value that looks like one of our credentials, replaced. */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  // `;` separates parameters too for some parsers: a value after one is redacted by its own name.
  const pairs = url.slice(start + 1).split(/([&;])/).map((pair) => {
    if (pair === '&' || pair === ';') return pair;
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    // A credential sent as a parameter's name (`?ck_…`) hides the whole pair.
    if (CREDENTIAL_PATTERN.test(decoded(name))) return REDACTED;
    if (SECRET_QUERY_PARAMETERS.has(bareName(name))) return `${name}=${REDACTED}`;
    return equals !== -1 && CREDENTIAL_PATTERN.test(decoded(pair.slice(equals + 1))) ? `${name}=${REDACTED}` : pair;
  });
  return `${url.slice(0, start)}?${pairs.join('')}`;
}

/**
 * Redis commands whose arguments carry the password (`AUTH [user] password`, `HELLO 3 AUTH user
 * password`). ioredis puts the command a reply refused on its error as `command: {name, args}`,
 * so a Redis refusing REDIS_URL's password would log it with every reconnection.
 */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello']);
/** How deep into an error's properties (causes, aggregated errors, wrapped details) commands are looked for. */
const MAX_DEPTH = 8;

const isCredentialCommand = (command: unknown): boolean =>
  typeof command === 'object' && command !== null && CREDENTIAL_COMMANDS.has(String((command as { name?: unknown }).name).toLowerCase());

/**
 * `value` with the arguments of every AUTH or HELLO command in it replaced by `[redacted]`: a copy
 * of each object and array in it (same prototype, same own enumerable properties, so the same
 * JSON), the error and its command left as they are. A cycle leads to the copy, never back to
 * the original. Values with their own JSON (`toJSON`: dates, buffers, URLs) are kept as they are.
 */
function withoutPasswords(value: unknown, depth: number, copies: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (ArrayBuffer.isView(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const known = copies.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    copies.set(value, items);
    for (const item of value) items.push(withoutPasswords(item, depth + 1, copies));
    return items;
  }
  const source = value as Record<string, unknown>;
  // Symbol-keyed properties too (pino keeps the serialized error's original under one: `raw`).
  const copy = Object.assign(Object.create(Object.getPrototypeOf(source) as object | null) as Record<string, unknown>, source);
  copies.set(value, copy);
  for (const key of Object.keys(source)) {
    const field = source[key];
    copy[key] = key === 'command' && isCredentialCommand(field)
      ? { ...(field as object), args: REDACTED }
      : withoutPasswords(field, depth + 1, copies);
  }
  return copy;
}

/** pino's error serializer, with the password of a Redis AUTH or HELLO taken out of it and of the errors it holds. */
export function serializeError(error: unknown): unknown {
  return withoutPasswords(stdSerializers.err(error as Error), 0, new Map());
}
