import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { serviceUnavailable } from '../shared/http/app-error.js';
import { sendError } from '../shared/http/error-envelope.js';

/**
 * An API process's shutdown as its requests see it. Once begun (SIGTERM, or the app closing),
 * /readyz answers 503 and every answer carries `Connection: close`: a connection a proxy keeps
 * in its pool is closed by the answer it carried, rather than reused for a request that this
 * process would refuse (or reset) a moment later while the other processes are healthy.
 */
export class ApiShutdown {
  #begun = false;

  /** Whether the shutdown has begun. */
  get begun(): boolean {
    return this.#begun;
  }

  /** Begins the shutdown; beginning it again changes nothing. */
  begin(): void {
    this.#begun = true;
  }
}

/**
 * How the API answers while it shuts down: every answer (one under way when the shutdown began
 * too, unless its headers are out already) with `Connection: close`; once the app closes (its
 * listener about to close), a request that still arrives on an open connection gets 503.
 */
export function registerShutdownAnswers(app: FastifyInstance, shutdown: ApiShutdown): void {
  let closing = false;
  app.addHook('preClose', async () => {
    shutdown.begin();
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    // After the drain: PostgreSQL and Redis are about to close, so only the requests under way finish.
    if (closing) {
      request.log.info('request refused: the server is closing');
      return sendError(reply, serviceUnavailable('The server is shutting down; try again shortly.'));
    }
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (shutdown.begun) void reply.header('connection', 'close');
    done(null, payload);
  });
}

/** How long {@link closeApi} drains, and how long it lets requests run in all (both from its start). */
export interface ApiCloseTiming {
  /** SHUTDOWN_DRAIN_MS (0 on a signal from a terminal); cut to `graceMs`. */
  drainMs: number;
  /** SHUTDOWN_HTTP_GRACE_MS. */
  graceMs: number;
}

/**
 * Closes the API within `graceMs` of its start:
 * 1. the drain (`drainMs`): /readyz answers 503 while requests are served as usual, on new
 *    connections and kept-alive ones alike, each answer closing its connection. Balancers that
 *    route by readiness stop sending meanwhile, and a proxy's pooled connections close one by one
 *    after the answers they carry, so none is cut under a request the proxy has just written;
 * 2. the listener closes, and Node closes the connections idle at that moment (never one whose
 *    request has begun to arrive or is being answered); event streams end;
 * 3. the requests under way finish; those still open at `graceMs` have their connections closed,
 *    so that no upload or download (they may last up to HTTP_REQUEST_TIMEOUT_MS) holds the process.
 */
export async function closeApi(app: FastifyInstance, shutdown: ApiShutdown, timing: ApiCloseTiming, logger: Logger): Promise<void> {
  const { graceMs } = timing;
  const cutOff = setTimeout(() => {
    logger.warn({ graceMs }, 'requests still open at the end of SHUTDOWN_HTTP_GRACE_MS: closing their connections');
    app.server.closeAllConnections();
  }, graceMs);
  try {
    shutdown.begin();
    const drainMs = Math.min(timing.drainMs, graceMs);
    if (drainMs > 0) {
      logger.info({ drainMs }, 'draining: /readyz answers 503; requests are still served, each answer closing its connection');
      await sleep(drainMs);
    }
    await app.close();
  } finally {
    clearTimeout(cutOff);
  }
}
