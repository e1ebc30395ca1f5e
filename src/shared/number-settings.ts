import { z } from 'zod';
import { MAX_TIMER_MS } from './timer-limit.js';

/**
 * Numeric settings of the environment. A value is read only when written in decimal digits:
 * `Number()` would also take `0x10` (16), `1e3`, `0b11`, `+8` or ` 8`, so a typo could run the
 * service with a number nobody wrote.
 */
const WHOLE_NUMBER = /^\d+$/;
const DECIMAL_NUMBER = /^\d+(\.\d+)?$/;

/** The longest delay of a setting in seconds that becomes a timer. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Days a retention may be (100 years): the cleanup subtracts them from today in PostgreSQL. */
export const MAX_RETENTION_DAYS = 36_500;

function written(pattern: RegExp, expected: string, number: z.ZodNumber) {
  return z.string().regex(pattern, `expected ${expected} written in decimal digits`).transform(Number).pipe(number);
}

/** A whole number from `min` to `max` (by default, the largest a number holds exactly). */
export function integerSetting(min: number, max: number = Number.MAX_SAFE_INTEGER, maxNote = '') {
  return written(
    WHOLE_NUMBER,
    'a whole number',
    z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}${maxNote}`),
  );
}

/** Milliseconds that end up in a timer: at most {@link MAX_TIMER_MS}, or a lower `max`. */
export function millisecondsSetting(min: number, max: number = MAX_TIMER_MS) {
  return integerSetting(min, max, max === MAX_TIMER_MS ? ' (about 24.8 days, the longest timer Node.js keeps)' : '');
}

/** Seconds that end up in a timer: at most {@link MAX_TIMER_SECONDS}. */
export function secondsSetting(min: number) {
  return integerSetting(min, MAX_TIMER_SECONDS, ' (about 24.8 days, the longest timer Node.js keeps)');
}

/** A number with an optional fraction (`0.5`), above `min` (or from it, with `inclusive`), at most `max`. */
export function decimalSetting(min: number, max: number, inclusive = true) {
  const least = inclusive
    ? z.number().min(min, `must be at least ${min}`)
    : z.number().gt(min, `must be more than ${min}`);
  return written(DECIMAL_NUMBER, 'a number', least.max(max, `must be at most ${max}`));
}
