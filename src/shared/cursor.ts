import { badRequest } from './errors.js';

/** Encodes a keyset position as an opaque `next_cursor`. */
export function encodeCursor(position: unknown[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/**
 * Decodes a `cursor` query parameter made by {@link encodeCursor}; anything else is a
 * 400 BAD_REQUEST naming the parameter.
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
