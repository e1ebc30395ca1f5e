import type { FastifyInstance } from 'fastify';
import { badRequest } from './errors.js';

/**
 * Where `value` (a parsed JSON body) holds a NUL character, in a string or a key, as a path such
 * as `attributes.color` or `items[2]`; null when nowhere. Walks with its own stack, so a deeply
 * nested body cannot exhaust the call stack.
 */
export function nulPath(value: unknown): string | null {
  const pending: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (pending.length > 0) {
    const { value: next, path } = pending.pop()!;
    if (typeof next === 'string') {
      if (next.includes('\u0000')) return path || 'the body';
    } else if (Array.isArray(next)) {
      next.forEach((item, index) => pending.push({ value: item, path: `${path}[${index}]` }));
    } else if (next !== null && typeof next === 'object') {
      for (const [key, item] of Object.entries(next)) {
        // A key with a NUL is named as JSON writes it, so the message shows where the NUL is.
        const keyPath = `${path ? `${path}.` : ''}${key.includes('\u0000') ? JSON.stringify(key) : key}`;
        if (key.includes('\u0000')) return keyPath;
        pending.push({ value: item, path: keyPath });
      }
    }
  }
  return null;
}

/** The answer to JSON the prototype-poisoning guard refuses, which is valid JSON all the same. */
const FORBIDDEN_KEY_MESSAGE = "The JSON body has a key named '__proto__' (or 'constructor' holding 'prototype'); no field may have that name.";

function isValidJson(body: string): boolean {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses JSON bodies as Fastify does (empty and malformed bodies, prototype poisoning), except
 * that an empty body is no error where the route takes none, a body the poisoning guard refuses
 * is told so, not called invalid JSON, and refuses a body with a NUL
 * character anywhere with 400 BAD_REQUEST naming where: PostgreSQL cannot store one in text or
 * JSON, so it would otherwise fail deep inside a route.
 */
export function registerJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // A route that takes no body (a DELETE, a cancel) answers as usual when a client labels its
    // empty body JSON, as many HTTP clients do by default.
    if (body.length === 0 && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    parseJson(request, body as string, (error, value) => {
      if (error) return done(isValidJson(body as string) ? badRequest(FORBIDDEN_KEY_MESSAGE) : error, undefined);
      const path = nulPath(value);
      if (path === null) return done(null, value);
      done(badRequest(`The JSON body holds a NUL character (\\u0000) in ${path}; no field may hold one.`), undefined);
    });
  });
}
