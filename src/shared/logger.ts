import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths that may hold a credential; pino replaces their values before a line is written. */
export const REDACTED_PATHS = [
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

/** pino options shared by the API's request logger and the workers' logger. */
export function loggerOptions(level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
}

/** Creates the process logger. */
export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}

export type { Logger };
