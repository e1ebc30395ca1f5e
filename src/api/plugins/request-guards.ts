import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, requestTimeout, unsupportedContentEncoding } from '../errors.js';
import { sendError } from '../../shared/http/error-envelope.js';
import { timerDelay } from '../../shared/timer-limit.js';

/** How slowly a request body may arrive: `timeoutMs`, plus a second per `minBytesPerSecond` received. */
export interface BodyRate {
  timeoutMs: number;
  minBytesPerSecond: number;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Guards every request before any parser reads it: a query string with an encoded NUL (`%00`,
 * which PostgreSQL refuses in text) is refused with 400 ({@link holdsNulQuery}); a
 * Content-Encoding is refused with 415 (the service reads bodies as sent and never inflates one,
 * whose size it could not bound), and a body that arrives slower than {@link BodyRate} is cut off
 * with 408.
 */
export function registerRequestGuards(app: FastifyInstance, rate: BodyRate): void {
  app.addHook('onRequest', async (request, reply) => {
    if (holdsNulQuery(request)) throw badRequest('A query parameter holds a NUL character (%00), which no parameter may hold.');
    if (!hasBody(request)) return;
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') throw unsupportedContentEncoding(encoding);
    // An injected request (tests, light-my-request) has no network socket to guard.
    if (typeof request.raw.socket?.bytesRead === 'number') watchBodyRate(request, reply, rate);
  });
}

/**
 * Whether a route that reads its query string was sent an encoded NUL (`%00`) in it. Routes that
 * read none ignore their query string, NUL or not; a NUL in the path names nothing that exists
 * (no id or EAN holds one), which the routes answer with 404.
 */
function holdsNulQuery(request: FastifyRequest): boolean {
  const query = request.url.indexOf('?');
  return query !== -1 && request.routeOptions.schema?.querystring !== undefined && request.url.includes('%00', query);
}

/**
 * A deadline that each received byte moves later (as Apache's mod_reqtimeout MinRate): a client
 * that drips a byte every few seconds runs out of time, an upload that keeps a sane rate never
 * does, however long it is. Counts the socket's bytes, so the body stream itself is not touched.
 */
function watchBodyRate(request: FastifyRequest, reply: FastifyReply, rate: BodyRate): void {
  const socket = request.raw.socket;
  const startBytes = socket.bytesRead;
  const started = Date.now();
  const deadline = () => started + rate.timeoutMs + ((socket.bytesRead - startBytes) * 1000) / rate.minBytesPerSecond;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    if (request.raw.complete || socket.destroyed) return;
    const wait = deadline() - Date.now();
    // A slow minimum rate can put the deadline past the longest timer: wait that long, then look again.
    if (wait > 0) timer = setTimeout(check, timerDelay(wait)).unref();
    else cutOff(request, reply);
  };
  timer = setTimeout(check, rate.timeoutMs).unref();
  const stop = () => clearTimeout(timer);
  request.raw.once('end', stop);
  reply.raw.once('close', stop);
}

/**
 * Answers 408 when nothing was answered yet, then destroys the request (and so its connection):
 * whatever reads the body (an upload being stored) fails and cleans up. Closing only the socket
 * would not do: once its response has finished, Node no longer aborts the request with it.
 */
function cutOff(request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ bytesRead: request.raw.socket.bytesRead }, 'request body too slow: closing the connection');
  if (reply.sent || reply.raw.headersSent) {
    request.raw.destroy();
    return;
  }
  reply.raw.once('finish', () => request.raw.destroy());
  sendError(reply.header('connection', 'close'), requestTimeout());
}
