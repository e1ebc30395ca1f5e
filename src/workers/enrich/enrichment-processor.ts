import { queuePrefix } from '../../shared/queues.js';
import type { JobProcessor, WorkerDeps } from '../job-processor.js';
import { ProviderClient } from './provider-client.js';
import { ProviderRateLimiter } from './provider-rate-limiter.js';
import { runEnrichment } from './run-enrichment.js';

/** Time left for settling a page (one transaction of at most 200 products), with room to spare. */
const SETTLE_PAGE_MS = 2_000;

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
        onCall: deps.metrics ? (result) => deps.metrics?.providerCalls.inc({ result }) : undefined,
      })
    : null;
  const enrichDeps = {
    db: deps.db,
    logger: deps.logger,
    provider,
    lookupConcurrency: config.ENRICH_LOOKUP_CONCURRENCY,
  };
  // A lookup under way may take ENRICH_PROVIDER_TIMEOUT_MS, and its page is settled after it: on a
  // shutdown, lookups stop being started that long (and a page's transaction) before the grace ends.
  const stopLeadMs = config.ENRICH_PROVIDER_TIMEOUT_MS + SETTLE_PAGE_MS;
  return async ({ jobId, signal, shutdown, claim }) => {
    const stop = shutdown.before(stopLeadMs);
    try {
      return await runEnrichment(enrichDeps, jobId, signal, stop.signal, claim?.token);
    } finally {
      stop.clear();
    }
  };
}
