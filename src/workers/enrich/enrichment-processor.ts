import { queuePrefix } from '../../shared/queues.js';
import type { JobProcessor, WorkerDeps } from '../job-processor.js';
import { ProviderClient } from './provider-client.js';
import { ProviderRateLimiter } from './provider-rate-limiter.js';
import { runEnrichment } from './run-enrichment.js';

/**
 * The enrichment processor of this process. The provider's rate and pauses are kept in Redis under
 * the queue prefix, so every worker process sharing the prefix shares them.
 */
export function createEnrichmentProcessor(deps: WorkerDeps): JobProcessor {
  const { config } = deps;
  const provider = config.ENRICH_PROVIDER_URL
    ? new ProviderClient({
        url: config.ENRICH_PROVIDER_URL,
        apiKey: config.ENRICH_PROVIDER_KEY,
        limiter: new ProviderRateLimiter(deps.connection, queuePrefix(config), config.ENRICH_PROVIDER_RATE_PER_MINUTE),
        timeoutMs: config.ENRICH_PROVIDER_TIMEOUT_MS,
        backoffBaseMs: config.ENRICH_PROVIDER_BACKOFF_MS,
      })
    : null;
  const enrichDeps = {
    db: deps.db,
    logger: deps.logger,
    provider,
    lookupConcurrency: config.ENRICH_LOOKUP_CONCURRENCY,
  };
  return ({ jobId, signal }) => runEnrichment(enrichDeps, jobId, signal);
}
