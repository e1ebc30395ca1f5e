import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { addressBucket } from './plugins/address-bucket.js';

/** How many connections the API holds open: per client address (0: no cap) and in all. */
export interface ConnectionCaps {
  perAddress: number;
  total: number;
}

/** At most one log line a minute per refusing address, and one for the process's total cap. */
const LOG_EVERY_MS = 60_000;

/**
 * Bounds the connections one API process holds, so that no client can take every file descriptor
 * (and with them PostgreSQL's, Redis' and the upload store's) by opening sockets and sending
 * nothing, or never finishing their headers:
 * - one client address (an IPv6 client by its /64, as the rate limits count it) holds at most
 *   `perAddress` connections; one more is closed as soon as it is accepted, before anything is read;
 * - the process holds at most `total` (Node's maxConnections: one more is closed unaccepted).
 * The address is the TCP peer's: TRUST_PROXY cannot apply before a request has been read, so
 * behind a load balancer every connection counts for the balancer (README: raise or disable it).
 */
export function limitConnections(server: Server, caps: ConnectionCaps, logger: FastifyBaseLogger, clock: () => number = Date.now): void {
  server.maxConnections = caps.total;
  let totalLoggedAt = -Infinity;
  server.on('drop', (peer?: { remoteAddress?: string }) => {
    if (clock() - totalLoggedAt < LOG_EVERY_MS) return;
    totalLoggedAt = clock();
    logger.warn({ maxConnections: caps.total, remoteAddress: peer?.remoteAddress }, 'connection refused: MAX_CONNECTIONS open (logged once a minute)');
  });
  if (caps.perAddress === 0) return;
  const open = new Map<string, number>();
  const loggedAt = new Map<string, number>();
  const logRefusal = (client: string) => {
    const now = clock();
    if (now - (loggedAt.get(client) ?? -Infinity) < LOG_EVERY_MS) return;
    // Only the addresses refused within the last minute are remembered.
    for (const [address, at] of loggedAt) if (now - at >= LOG_EVERY_MS) loggedAt.delete(address);
    loggedAt.set(client, now);
    logger.warn({ client, maxConnectionsPerAddress: caps.perAddress }, 'connection refused: MAX_CONNECTIONS_PER_ADDRESS open from this address (logged once a minute)');
  };
  server.on('connection', (socket: Socket) => {
    // A socket already closed has no address; there is nothing left to count.
    if (socket.remoteAddress === undefined) return;
    const client = addressBucket(socket.remoteAddress);
    const count = open.get(client) ?? 0;
    if (count >= caps.perAddress) {
      logRefusal(client);
      socket.destroy();
      return;
    }
    open.set(client, count + 1);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
}

/**
 * Node's server options for HTTP_HEADERS_TIMEOUT_MS: a request whose headers have not all arrived
 * within it gets 408 with the envelope (clientErrorHandler) and its connection is closed. Node
 * looks for such requests every `connectionsCheckingInterval` (30 s by default, which let
 * half-sent headers hold a connection for up to 90 s); here a quarter of the timeout, at most 5 s.
 * Node refuses a headers timeout above the request timeout, so it is kept within it.
 */
export function headersTimeoutOptions(headersTimeoutMs: number, requestTimeoutMs: number) {
  const headersTimeout = Math.min(headersTimeoutMs, requestTimeoutMs);
  return {
    headersTimeout,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(headersTimeout / 4))),
  };
}
