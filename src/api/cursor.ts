import { badRequest } from './errors.js';
import { UUID_PATTERN as UUID } from '../shared/uuid.js';
import type { BoundedRows } from '../shared/db/byte-bounded-page.js';

/** Encodes a keyset position as an opaque `next_cursor`. */
function encodeCursor(position: unknown[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/**
 * Decodes a `cursor` query parameter made by {@link encodeCursor}; anything else is a
 * 400 BAD_REQUEST naming the parameter. `isPosition` must accept only values the list query can
 * bind without PostgreSQL refusing them (build it with {@link keysetPosition}): a cursor is client
 * input, and a value the database refuses would surface as a 500.
 */
export function decodeCursor<T extends unknown[]>(cursor: string, isPosition: (value: unknown) => value is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isPosition(value)) return value;
  } catch {
    // fall through to the error below
  }
  throw badRequest("Invalid query parameter 'cursor': use the next_cursor of a previous page.");
}

/** A check of one part of a keyset position. */
export type PositionPart<T> = (value: unknown) => value is T;

/** A text key (an EAN): short, and without the NUL byte PostgreSQL refuses in text. */
export const textPart: PositionPart<string> = (value): value is string =>
  typeof value === 'string' && value.length <= 200 && !value.includes('\u0000');


/** An id. */
export const uuidPart: PositionPart<string> = (value): value is string => typeof value === 'string' && UUID.test(value);

/** A row number or ordinal: a whole number from 0 up to 2^31 - 1 (fits integer and bigint). */
export const countPart: PositionPart<number> = (value): value is number =>
  Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 2_147_483_647;

/** `timestamptz::text` as PostgreSQL prints it with the ISO DateStyle: `2026-05-14 10:30:00.123456+00`. */
const PG_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::[0-5]\d){0,2}$/;

/** A `created_at` key as a list query printed it: only real calendar dates and times. */
export const timestampPart: PositionPart<string> = (value): value is string => {
  const match = typeof value === 'string' ? PG_TIMESTAMP.exec(value) : null;
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHours] = match.slice(1).map(Number) as number[];
  const date = new Date(Date.UTC(year!, month! - 1, day!));
  return (
    year! >= 1 &&
    date.getUTCMonth() === month! - 1 &&
    date.getUTCDate() === day &&
    hour! < 24 &&
    minute! < 60 &&
    second! < 60 &&
    offsetHours! <= 15
  );
};

/** A check of a whole position: an array of exactly these parts, in this order. */
export function keysetPosition<T extends unknown[]>(...parts: { [K in keyof T]: PositionPart<T[K]> }): PositionPart<T> {
  return (value): value is T =>
    Array.isArray(value) && value.length === parts.length && parts.every((isPart, index) => isPart(value[index]));
}

/** The position of a newest-first list (jobs, keys, schedules, import profiles): `created_at` key and id. */
export const isNewestFirstPosition = keysetPosition<[string, string]>(timestampPart, uuidPart);

/**
 * One page of a list query that fetched up to `limit + 1` rows: the first `limit` rows as `data`,
 * and a `next_cursor` at the last of them when the extra row shows that more follow.
 */
export function pageOf<Row, Item>(
  rows: Row[],
  limit: number,
  position: (row: Row) => unknown[],
  toItem: (row: Row) => Item,
): { data: Item[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { data: page.map(toItem), next_cursor: rows.length > limit && last ? encodeCursor(position(last)) : null };
}

/**
 * One page of a list query bounded in bytes as well as rows (byteBoundedPage): its rows as `data`,
 * and a `next_cursor` at the last of them when more follow, a page cut short by its byte budget
 * included (`limit` is a maximum).
 */
export function boundedPageOf<Row, Item>(
  page: BoundedRows<Row>,
  position: (row: Row) => unknown[],
  toItem: (row: Row) => Item,
): { data: Item[]; next_cursor: string | null } {
  const last = page.rows.at(-1);
  return { data: page.rows.map(toItem), next_cursor: page.more && last ? encodeCursor(position(last)) : null };
}
