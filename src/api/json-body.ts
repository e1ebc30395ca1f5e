import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_ATTRIBUTES } from '../shared/product/attribute-rules.js';
import { changedNumbers, type ChangedNumber } from '../shared/product/exact-numbers.js';
import { unstorableText as unstorable, type UnstorableText } from '../shared/product/storable-text.js';
import { firstInvalidUtf8 } from '../shared/utf8-offset.js';
import { badRequest, unsupportedMediaType } from './errors.js';
import { mediaTypeOf, mediaTypeParameter } from './media-type.js';

/**
 * Where `value` (a parsed JSON body) holds text PostgreSQL cannot store, in a string or a key, as
 * a path such as `attributes.color` or `items[2]`, and what it holds; null when nowhere. Walks
 * with its own stack, so a deeply nested body cannot exhaust the call stack.
 */
export function unstorablePath(value: unknown): { path: string; holds: UnstorableText } | null {
  const pending: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (pending.length > 0) {
    const { value: next, path } = pending.pop()!;
    if (typeof next === 'string') {
      const holds = unstorable(next);
      if (holds) return { path: path || 'the body', holds };
    } else if (Array.isArray(next)) {
      next.forEach((item, index) => pending.push({ value: item, path: `${path}[${index}]` }));
    } else if (next !== null && typeof next === 'object') {
      for (const [key, item] of Object.entries(next)) {
        // Such a key is named as JSON writes it, so the message shows where the character is.
        const holds = unstorable(key);
        const keyPath = `${path ? `${path}.` : ''}${holds ? JSON.stringify(key) : key}`;
        if (holds) return { path: keyPath, holds };
        pending.push({ value: item, path: keyPath });
      }
    }
  }
  return null;
}

const UNSTORABLE_MESSAGES: Record<UnstorableText, (path: string) => string> = {
  NUL: (path) => `The JSON body holds a NUL character (\\u0000) in ${path}; no field may hold one.`,
  surrogate: (path) => `The JSON body holds an unpaired surrogate (such as \\ud800) in ${path}; text must be valid Unicode.`,
};

/**
 * How deeply a JSON body may nest its arrays and objects. No body of the API nests past a handful
 * of levels; a 1 MiB body of brackets nests half a million deep, and parsing and walking that held
 * the event loop for seconds.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether `text` nests arrays and objects deeper than `max`, found in one pass over its characters (brackets in strings do not count). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) index += 1; // a backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > max) return true;
    } else if (code === 0x5d || code === 0x7d) depth -= 1;
  }
  return false;
}

/**
 * Whether a JSON text may hold text PostgreSQL cannot store: a NUL or a lone surrogate written
 * as it is, or any `\u` escape (which may write either). Without one, no walk of the parsed value
 * is needed.
 */
const mayHoldUnstorable = (text: string) => text.includes('\\u') || unstorable(text) !== null;

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
 * is told so, not called invalid JSON, and refuses a body with a NUL character or an unpaired
 * surrogate anywhere with 400 BAD_REQUEST naming where: PostgreSQL cannot store either in jsonb
 * (nor a NUL in text), so it would otherwise fail deep inside a route.
 */
export function registerJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // No route takes plain text: such a body is a 415, as any other non-JSON body of a JSON route,
  // not a string its schema would call "not an object". An empty one passes where the route takes
  // no body (a cancel sent with a client's default Content-Type).
  app.removeContentTypeParser('text/plain');
  // Every route with a JSON body refuses any other media type before its body is read: a
  // multipart body would otherwise reach it as no body at all (an enrichment of the whole catalog).
  app.addHook('onRoute', (route) => {
    if (route.schema?.body === undefined) return;
    const hooks = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [requireJsonMediaType, ...hooks];
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0 && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    done(unsupportedMediaType(request.headers['content-type'], 'send the body as application/json'), undefined);
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // A route that takes no body (a DELETE, a cancel) answers as usual when a client labels its
    // empty body JSON, as many HTTP clients do by default.
    if (body.length === 0 && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    // Read as a string, bytes that are not UTF-8 would become U+FFFD unseen: a Latin-1 "Café"
    // stored as "Caf\uFFFD" for good.
    const invalid = firstInvalidUtf8(body as Buffer);
    if (invalid !== -1) return done(badRequest(notUtf8Message(body as Buffer, invalid)), undefined);
    const text = (body as Buffer).toString('utf8');
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(badRequest(`The JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`), undefined);
    }
    parseJson(request, text, (error, value) => {
      if (error) return done(isValidJson(text) ? badRequest(FORBIDDEN_KEY_MESSAGE) : error, undefined);
      const found = mayHoldUnstorable(text) ? unstorablePath(value) : null;
      if (found !== null) return done(badRequest(UNSTORABLE_MESSAGES[found.holds](found.path)), undefined);
      noteChangedNumbers(request, text);
      done(null, value);
    });
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The key of the route's JSON body whose numbers must be kept as written (`attributes`): the
     * parser notes those JSON.parse changed (see changedNumbers), for the route to refuse.
     */
    exactNumbersUnder?: string;
  }
}

/** The numbers JSON.parse changed in a request's body, noted where its route asks for them. */
const changedNumbersByRequest = new WeakMap<FastifyRequest, ChangedNumber[]>();

/**
 * The numbers of a request's JSON body under its route's `exactNumbersUnder` key that JSON.parse
 * changed (9007199254740993 read as 9007199254740992): the body holds the double, only the text
 * what was sent. At most {@link MAX_ATTRIBUTES}, in the order written.
 */
export const changedNumbersOf = (request: FastifyRequest): readonly ChangedNumber[] => changedNumbersByRequest.get(request) ?? [];

function noteChangedNumbers(request: FastifyRequest, text: string): void {
  const under = request.routeOptions.config.exactNumbersUnder;
  if (under === undefined) return;
  const changed = changedNumbers(text, { under, max: MAX_ATTRIBUTES });
  if (changed.length > 0) changedNumbersByRequest.set(request, changed);
}

/** The answer to a JSON body with bytes that are not UTF-8, naming the first. */
function notUtf8Message(body: Buffer, offset: number): string {
  const byte = body[offset]!.toString(16).toUpperCase().padStart(2, '0');
  return `The JSON body is not valid UTF-8: byte 0x${byte} at offset ${offset}. JSON is sent in UTF-8 (RFC 8259); convert the text from the encoding it was written in.`;
}

/**
 * Refuses (415) a body labelled anything but JSON, or JSON in a charset other than UTF-8 (its
 * only encoding, RFC 8259): read as UTF-8, a UTF-16 body is garbage and a Latin-1 one changes its
 * accented letters unseen. A request without a Content-Type has no body to parse.
 */
async function requireJsonMediaType(request: FastifyRequest): Promise<void> {
  const contentType = request.headers['content-type'];
  if (contentType === undefined) return;
  const mediaType = mediaTypeOf(contentType);
  if (mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
    throw unsupportedMediaType(contentType, 'send the body as application/json');
  }
  const charset = mediaTypeParameter(contentType, 'charset');
  if (charset !== null && !/^(?:utf-?8|us-ascii)$/i.test(charset)) {
    throw unsupportedMediaType(contentType, 'send the body as application/json in UTF-8');
  }
}
