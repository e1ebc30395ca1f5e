import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths that may hold a credential; pino replaces their values before a line is written. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
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

/** A parameter's name without the brackets of array or object syntax (`api_key[]`, `token[0]`), lower case. */
const bare = (name: string) => name.replace(/\[.*$/s, '').trim().toLowerCase();

function decodedName(name: string): string {
  try {
    return bare(decodeURIComponent(name.replaceAll('+', ' ')));
  } catch {
    return bare(name);
  }
}

/** `url` with the values of its secret query parameters replaced by `[redacted]`. */
function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  // `;` separates parameters too for some parsers: a value after one is redacted by its own name.
  const pairs = url.slice(start + 1).split(/([&;])/).map((pair) => {
    if (pair === '&' || pair === ';') return pair;
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    return SECRET_QUERY_PARAMETERS.has(decodedName(name)) ? `${name}=[redacted]` : pair;
  });
  return `${url.slice(0, start)}?${pairs.join('')}`;
}

/** The fields Fastify logs of a request (its own `req` serializer's), with the URL redacted. */
interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Where {@link bindAccount} puts the account on a logger. */
const ACCOUNT_ID = Symbol('accountId');

/**
 * Puts `accountId` on every line `log` and its children write (as `accountId`). A property the
 * mixin reads when a line is written: pino's own bindings (`setBindings`) would be serialized and
 * redacted at once, on every request, whether it logs or not. `log` must be a request's own
 * logger (a child), never the process logger.
 */
export function bindAccount(log: object, accountId: string): void {
  (log as Record<symbol, unknown>)[ACCOUNT_ID] = accountId;
}

/** pino options shared by the API's request logger and the workers' logger. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    mixin: (_fields, _level, logger) => {
      const accountId = (logger as unknown as Record<symbol, unknown>)[ACCOUNT_ID];
      return accountId === undefined ? {} : { accountId };
    },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Replaces Fastify's request serializer in every request's log lines, matched or not (404s).
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}

/** Creates the process logger. */
export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}

export type { Logger };
