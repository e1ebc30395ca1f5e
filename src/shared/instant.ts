import { z } from 'zod';
import { MAX_INSTANT_LENGTH } from './input-bounds.js';

/** The offset that ends an ISO 8601 date-time (`+05:30`, `-0800`, `+05`); `Z` has none. */
const OFFSET = /[+-](\d{2})(?::?\d{2})?$/;

/**
 * Whether PostgreSQL's timestamptz takes an ISO 8601 date-time that is well formed: it refuses
 * the year 0000 and offsets past ±15:59, which the format allows.
 */
export function isStorableInstant(value: string): boolean {
  if (value.startsWith('0000')) return false;
  const offset = OFFSET.exec(value);
  return !offset || Number(offset[1]) <= 15;
}

/**
 * 10000-01-01T00:00:00Z, the first instant whose UTC form needs more than the four-digit year of
 * the contract's times (`2026-05-14T10:30:00Z`): JavaScript writes it `+010000-01-01T00:00:00Z`.
 */
export const FIRST_FIVE_DIGIT_YEAR_INSTANT = Date.UTC(10000, 0, 1);

/**
 * Whether a valid ISO 8601 date-time falls before year 10000 in UTC, so that it can be answered
 * in the contract's format (`9999-12-31T23:59:59-15:00` is in the year 10000 in UTC). True for a
 * text that is no date-time at all, which its format check refuses.
 */
export function isBeforeYear10000(value: string): boolean {
  return !(Date.parse(value) >= FIRST_FIVE_DIGIT_YEAR_INSTANT);
}

const OUT_OF_RANGE = 'Invalid ISO datetime: the year must be 0001 or later, an offset at most 15:59';

/**
 * An ISO 8601 date-time with a time and an offset (`Z` or `±hh:mm`), as everywhere in the
 * contract, that PostgreSQL can store; `message` replaces each of its problems' messages.
 */
export function instantSchema(message?: string) {
  return z.iso
    .datetime({ offset: true, ...(message ? { error: message } : {}) })
    .max(MAX_INSTANT_LENGTH, message ? { error: message } : undefined)
    .refine(isStorableInstant, { error: message ?? OUT_OF_RANGE });
}

/**
 * A time the service answers with, in UTC (`2026-05-14T10:30:00Z`, some with milliseconds):
 * documented as `format: date-time`, so that a generated client can read it as a date. The
 * service writes it, so nothing checks it: the serializer ignores the format (response-serializer.ts).
 */
export function answeredInstant() {
  return z.string().meta({ format: 'date-time' });
}
