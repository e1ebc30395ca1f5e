import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { badRequest } from './errors.js';
import { answerOnSocket } from '../shared/http/error-handler.js';

/**
 * How the API answers what Node would otherwise answer for it, without the contract's envelope
 * or before the request is authenticated:
 * - `Expect: 100-continue`: Node sends `100 Continue` at once, so a client such as curl uploads
 *   its whole file before it learns that its key is wrong or its minute used up. Here the request
 *   goes through authentication, admission and the route's checks first; `100 Continue` is sent
 *   only when its body is about to be read, and a refusal is the final answer, sent instead.
 * - Any other expectation (`Expect: 200-ok`) is ignored (RFC 9110 §10.1.1 allows that) rather
 *   than answered with Node's bare 417.
 * - An HTTP/1.1 request without `Host` gets 400 with the envelope, where Node answered a bare 400.
 *   The server is built with `requireHostHeader: false` for it ({@link HTTP_SERVER_OPTIONS}).
 * - A `CONNECT` (a proxy tunnel, which this service is not) gets 400 with the envelope, where Node
 *   closed the connection without a word.
 */
export function registerExpectations(app: FastifyInstance): void {
  const dispatch = (request: unknown, response: unknown) => app.server.emit('request', request, response);
  app.server.on('checkContinue', dispatch);
  app.server.on('checkExpectation', dispatch);
  app.server.on('connect', (_request: unknown, socket: Socket) => answerOnSocket(socket, badRequest('CONNECT is not supported: this service is no proxy.')));
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) throw badRequest('The request has no Host header.');
  });
  app.addHook('preParsing', async (request, reply, payload) => {
    const expect = request.headers.expect;
    if (typeof expect === 'string' && expect.trim().toLowerCase() === '100-continue' && !reply.raw.headersSent) reply.raw.writeContinue();
    return payload;
  });
}

/** Node's server options the API is built with (see {@link registerExpectations}). */
export const HTTP_SERVER_OPTIONS = { requireHostHeader: false } as const;
