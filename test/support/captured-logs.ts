import { PassThrough } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loggerOptions } from '../../src/shared/logger.js';

/**
 * A logger at `level` with the service's own options whose lines are kept: `text()` is everything
 * logged so far, `lines()` the lines parsed, `clear()` forgets them.
 */
export function capturedLogs(level = 'info'): { logger: Logger; text: () => string; lines: () => Array<Record<string, unknown>>; clear: () => void } {
  let logged = '';
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  return {
    logger: pino(loggerOptions(level), sink),
    text: () => logged,
    lines: () =>
      logged
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    clear: () => {
      logged = '';
    },
  };
}
