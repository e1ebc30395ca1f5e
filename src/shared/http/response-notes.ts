import { z } from 'zod';
import type { ErrorCode } from './app-error.js';

/** A response header as the OpenAPI document describes it (its schema, plus the header's own fields). */
export interface ResponseHeader {
  description: string;
  /** Sent with every response of its status (OpenAPI's header `required`). */
  required?: boolean;
  type: 'integer' | 'string';
  format?: string;
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

/**
 * What the OpenAPI document says of one response beyond its body: the headers it carries and, for
 * an error, the `error_code` values it answers with besides its status's usual ones (a 409 has no
 * usual one: each route names its own).
 */
export interface ResponseNotes {
  headers?: Record<string, ResponseHeader>;
  codes?: readonly ErrorCode[];
  /**
   * The exact `error` sentences this response answers with, per code, besides those the code
   * always has (src/api/plugins/openapi-error-strings.ts); `{…}` marks a variable part.
   */
  sentences?: Partial<Record<ErrorCode, readonly string[]>>;
}

const notes = new WeakMap<object, ResponseNotes>();

/**
 * A copy of `response` (a zod schema, or a `{ description, content }` response) carrying `added`
 * for the document. The copy validates and serializes as the original does, so only the routes
 * that use the copy are documented with it.
 */
export function noted<T extends object>(response: T, added: ResponseNotes): T {
  const copy = (response instanceof z.ZodType ? response.meta({}) : { ...response }) as T;
  notes.set(copy, added);
  return copy;
}

/** What was noted of `response` with {@link noted}; nothing for anything else. */
export function notesOf(response: unknown): ResponseNotes {
  return typeof response === 'object' && response !== null ? (notes.get(response) ?? {}) : {};
}
