import { pino, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, REDACTED_PATHS, redactUrl, serializeError } from './log-redaction.js';

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
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    serializers: {
      // Every error logged (a worker's, a Redis connection's, a request's), without Redis passwords.
      err: serializeError,
      // Replaces Fastify's request serializer in every request's log lines, matched or not (404s).
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
