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
