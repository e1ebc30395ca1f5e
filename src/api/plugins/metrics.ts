import type { FastifyInstance } from 'fastify';
import { metricsRoute, type MetricsRouteDeps } from '../../shared/http/metrics-route.js';

/**
 * Times every HTTP request by its route pattern (`/v1/jobs/:id`, never the raw URL, so the label
 * set stays small) and status, and serves GET /metrics ({@link metricsRoute}).
 */
export function registerMetrics(app: FastifyInstance, deps: MetricsRouteDeps): void {
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
