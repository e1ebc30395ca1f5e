import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  AppError,
  badRequest,
  internalError,
  MAX_JSON_BODY_BYTES,
  payloadTooLarge,
  requestHeadersTooLarge,
  requestTimeout,
  serviceUnavailable,
  unsupportedMediaType,
} from './app-error.js';
import { MAX_FIELD_PROBLEMS, schemaIssueField, schemaIssueMessage } from '../field-problems.js';
import { envelopeOf, sendError } from './error-envelope.js';

/**
 * Answers what Node refuses before Fastify sees a request (headers over the size limit, a request
 * not received within HTTP_REQUEST_TIMEOUT_MS, a malformed request line) with the envelope, then
 * closes the connection, as Fastify's own handler does with its own body.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const appError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? requestHeadersTooLarge()
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? // Node's headers and request timeouts alike: the headers may not have ended yet.
          requestTimeout('the headers, then the body,')
        : badRequest('The request is not valid HTTP.');
  answerOnSocket(socket, appError);
}

/**
 * Writes `appError` as a whole HTTP/1.1 response with the envelope straight to `socket`, then
 * closes it: for what Node hands over before (or instead of) a request Fastify would answer.
 */
export function answerOnSocket(socket: Socket, appError: AppError): void {
  const body = JSON.stringify(envelopeOf(appError));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Node and driver error codes that mean PostgreSQL or Redis cannot be reached. */
// 57014: a query cancelled by the API's statement_timeout (API_STATEMENT_TIMEOUT_MS): PostgreSQL is too slow.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '53300', '57014']);

/** The 503 of a request whose lock wait ran past API_LOCK_TIMEOUT_MS. */
export const HELD_BY_JOB = 'What this request writes is held by a running job; try again shortly.';

/** Whether `error` means a backing service cannot be reached, or hangs ("Command timed out": REDIS_COMMAND_TIMEOUT_MS). */
function isUnavailable(error: Error & { code?: string }): boolean {
  return (
    (error.code !== undefined && UNAVAILABLE_CODES.has(error.code)) ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|Connection terminated|timeout exceeded when trying to connect/i.test(
      error.message,
    )
  );
}

/** Maps any error to the envelope: contract errors as they are, framework 4xx by kind, the rest 500/503. */
function toAppError(error: FastifyError, request: FastifyRequest, maxUploadBytes: number): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    // A query parameter the route does not take comes first: a misspelt name is the mistake to fix,
    // and its schema (strictQuery) words it, naming the parameters the route takes.
    const unknownParameters = error.validationContext === 'querystring' ? error.validation.find((issue) => issue.keyword === 'unrecognized_keys') : undefined;
    if (unknownParameters?.message) return badRequest(unknownParameters.message);
    const where = error.validationContext === 'querystring' ? 'query parameter' : error.validationContext === 'params' ? 'path parameter' : 'field';
    const problems = error.validation.slice(0, MAX_FIELD_PROBLEMS).map((issue) => {
      const name = schemaIssueField(issue) || 'body';
      return { field: name, message: `Invalid ${where} '${name}': ${schemaIssueMessage(issue) ?? 'invalid'}` };
    });
    // A body's problems are listed in `errors` (the first MAX_FIELD_PROBLEMS of them), as every
    // other 400 of a body lists them (API.md §1).
    return badRequest(problems[0]!.message, error.validationContext === 'body' ? { errors: problems } : undefined);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // The import route checks its media types itself: this is a body of a JSON route.
      return unsupportedMediaType(request.headers['content-type'], 'send the body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // Only a JSON body is parsed whole; an upload is streamed and has its own limit.
      return payloadTooLarge(MAX_JSON_BODY_BYTES, 'The request body');
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
      return payloadTooLarge(maxUploadBytes);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return badRequest('The request body is not valid JSON.');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return unsupportedMediaType(request.headers['content-type']);
  }
  // 55P03: a lock wait past the API's lock_timeout (API_LOCK_TIMEOUT_MS): a running job holds what
  // the request writes. Product writes say which product (see product-writes.ts).
  if (error.code === '55P03') return serviceUnavailable(HELD_BY_JOB);
  if (isUnavailable(error)) return serviceUnavailable();
  const status = error.statusCode ?? 500;
  // The docs' static file server refuses a path outside its folder (`/docs/static/../../x`) with
  // 403: that path names nothing, and API.md §1 keeps 403 for what a key or an account may not do.
  if (status === 403 || status === 404) return noRoute(request);
  if (status >= 400 && status < 500) return new AppError(status, 'BAD_REQUEST', error.message);
  return internalError();
}

/** Installs the one error handler and the 404 handler; 5xx details go to the log, never to the client. */
export function registerErrorHandling(app: FastifyInstance, maxUploadBytes: number): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error, request, maxUploadBytes);
    // A client that closed its connection (an upload cut off) is no failure of the service: its
    // stream's error (ECONNRESET, "aborted") reads as a backing service down. Nothing reaches it.
    if (request.raw.socket?.destroyed === true) request.log.info({ code: error.code }, 'request ended: the client closed the connection');
    else if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, status: appError.status }, appError.message);
    // A body not read to its end (a store that failed mid-upload): the connection closes after the
    // answer, rather than wait for the rest, held against the address's connections meanwhile.
    if (!request.raw.complete) reply.header('connection', 'close');
    return sendError(reply, appError);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, noRoute(request)));
}

/** The 404 of a path that names nothing the API serves. */
const noRoute = (request: FastifyRequest) => new AppError(404, 'NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}.`);

/**
 * Fastify's own refusals before any route is found (a path parameter longer than the router
 * allows: 414; a URL that cannot be decoded: 400) get the contract's envelope too (API.md §1).
 * Passed to Fastify as `frameworkErrors`.
 */
export function sendFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long.' : 'The URL is not valid.';
  void sendError(reply, new AppError(error.statusCode ?? 400, 'BAD_REQUEST', message));
}
