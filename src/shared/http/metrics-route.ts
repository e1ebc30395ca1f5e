import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceMetrics } from '../metrics.js';
import { authenticationRequired, invalidApiKey } from './app-error.js';
import { errorResponses } from './error-envelope.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** The Bearer token of a request, if any. */
function bearer(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match ? match[1]! : null;
}

/**
 * GET /metrics in Prometheus text, served by the API and by a worker process's listener. With
 * `token` set (METRICS_TOKEN), it wants `Authorization: Bearer <token>`.
 */
export function metricsRoute(app: FastifyInstance, deps: { metrics: ServiceMetrics; token?: string | undefined }): void {
  const tokenHash = deps.token ? sha256(deps.token) : null;
  app.withTypeProvider<ZodTypeProvider>().get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format: HTTP latencies by route and status, jobs started/completed/failed and their ' +
          'durations by type, rows imported/failed, queue depths per state, event-loop lag. Needs ' +
          '`Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set.',
        security: tokenHash ? [{ bearerAuth: [] }] : [],
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: z.string() } },
          },
          ...errorResponses(401, 500),
        },
      },
    },
    async (request, reply: FastifyReply) => {
      if (tokenHash) {
        const presented = bearer(request);
        if (!presented) throw authenticationRequired();
        if (!timingSafeEqual(sha256(presented), tokenHash)) throw invalidApiKey();
      }
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
}
