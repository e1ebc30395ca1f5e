import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** At most one log line a minute for the whole process: a flood of such connections is one event. */
const LOG_EVERY_MS = 60_000;

/**
 * Bounds the requests one connection has in flight: parsed, not yet answered. Node parses every
 * request of a chunk as it arrives and hands each over at once, and each answer waits in memory
 * until the client reads the ones before it; so one client that writes hundreds of requests in a
 * single write (HTTP/1.1 pipelining) and reads nothing made the process build hundreds of answers
 * (300 of the ~200 KB OpenAPI document exhausted a 128 MB heap within 2 s).
 *
 * Past `maxInFlight` the connection is closed at once, as a connection past the per-address cap
 * is: no answer is built for that request or any later one, and the answers being built for the
 * earlier ones are dropped. A client that waits for each answer before it sends the next request
 * has one in flight, however many it sends; one that pipelines a few is served as before.
 *
 * The gate stands in front of Fastify's own request listener (it is taken off the server's
 * 'request' event and called from here), so a refused request never reaches Fastify: no routing,
 * no request log line, no hooks.
 */
export function limitPipelinedRequests(server: Server, maxInFlight: number, logger: FastifyBaseLogger, clock: () => number = Date.now): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const inFlight = new WeakMap<Socket, number>();
  let loggedAt = -Infinity;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    // The rest of a chunk Node still parses after its connection was closed: nobody to answer.
    if (socket.destroyed) return;
    const count = (inFlight.get(socket) ?? 0) + 1;
    if (count > maxInFlight) {
      if (clock() - loggedAt >= LOG_EVERY_MS) {
        loggedAt = clock();
        logger.warn({ remoteAddress: socket.remoteAddress, maxPipelinedRequests: maxInFlight }, 'connection closed: MAX_PIPELINED_REQUESTS in flight on it (logged once a minute)');
      }
      socket.destroy();
      return;
    }
    inFlight.set(socket, count);
    let settled = false;
    // 'finish' once the whole answer is handed to the connection; 'close' when it never will be.
    const settle = () => {
      if (settled) return;
      settled = true;
      inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1);
    };
    response.once('finish', settle).once('close', settle);
    for (const handler of handlers) handler.call(server, request, response);
  });
}
