import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceMetrics } from '../metrics.js';
import { credentialDigest, sameDigest } from '../accounts/api-keys.js';
import { AppError, invalidApiKey } from './app-error.js';
import type { CredentialAttempts } from './credential-attempts.js';
import { errorCodes, errorResponses } from './error-envelope.js';

/** The Bearer token of a request, if any. */
function bearer(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match ? match[1]! : null;
}

export interface MetricsRouteDeps {
  metrics: ServiceMetrics;
  token?: string | undefined;
  /**
   * The API's per-address limit on invalid keys: wrong tokens count on it, and past it a token is
   * refused (429) before it is compared. The worker listener, with no limits, has none.
   */
  attempts?: CredentialAttempts | undefined;
}

/**
 * The 401 of a scrape without a Bearer token: the API's sentence about keys would offer X-API-Key,
 * which /metrics does not read.
 */
export const metricsTokenRequired = () =>
  new AppError(401, 'AUTHENTICATION_REQUIRED', "Missing metrics token. Send it as 'Authorization: Bearer <METRICS_TOKEN>'.");

/** Compares the presented token with `tokenDigest`, on the address's invalid-key limit when there is one. */
async function checkToken(request: FastifyRequest, tokenDigest: string, attempts: CredentialAttempts | undefined): Promise<void> {
  const presented = bearer(request);
  if (!presented) throw metricsTokenRequired();
  const digest = credentialDigest(presented);
  await attempts?.admit(request.ip, digest);
  if (sameDigest(digest, tokenDigest)) {
    attempts?.passed(request.ip, digest);
    return;
  }
  await attempts?.failed(request.ip, digest);
  throw invalidApiKey();
}

/**
 * GET /metrics in Prometheus text, served by the API and by a worker process's listener. With
 * `token` set (METRICS_TOKEN), it wants `Authorization: Bearer <token>`.
 */
export function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  const tokenDigest = deps.token ? credentialDigest(deps.token) : null;
  app.withTypeProvider<ZodTypeProvider>().get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format: HTTP latencies by route and status, jobs started/completed/failed and their ' +
          'durations by type, rows imported/failed, queue depths per state, event-loop lag. Needs ' +
          '`Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set.' +
          (deps.attempts ? ' Wrong tokens count toward the per-address limit on invalid API keys; past it, 429.' : ''),
        security: tokenDigest ? [{ bearerAuth: [] }] : [],
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: z.string() } },
          },
          ...(deps.attempts ? errorResponses(429, 500, 503) : errorResponses(500)),
          ...errorCodes(401, 'AUTHENTICATION_REQUIRED', 'INVALID_API_KEY'),
        },
      },
    },
    async (request, reply: FastifyReply) => {
      if (tokenDigest) await checkToken(request, tokenDigest, deps.attempts);
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
}
