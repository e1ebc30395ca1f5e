import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, authenticationRequired } from '../../shared/errors.js';
import type { ServiceMetrics } from '../../shared/metrics.js';
import { errorResponses } from '../schemas.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** The Bearer token of a request, if any. */
function bearer(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match ? match[1]! : null;
}

/**
 * Times every HTTP request by its route pattern (`/v1/jobs/:id`, never the raw URL, so the label
 * set stays small) and status, and serves GET /metrics in Prometheus text. With `token` set
 * (METRICS_TOKEN), /metrics wants `Authorization: Bearer <token>`.
 */
export function registerMetrics(app: FastifyInstance, deps: { metrics: ServiceMetrics; token?: string | undefined }): void {
  const { metrics } = deps;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  metricsRoute(app, deps);
}

/** GET /metrics alone (also served by the worker listener). */
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
        if (!timingSafeEqual(sha256(presented), tokenHash)) throw new AppError(401, 'INVALID_API_KEY', 'Invalid API key.');
      }
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
}
