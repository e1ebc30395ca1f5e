import type { JobType } from '../shared/jobs/job-row.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { JobProcessor } from './job-processor.js';

/**
 * Counts the attempts `processor` starts and the jobs it ends (completed or failed, with their
 * duration and, for imports, rows written and rows failed). Duplicate deliveries (null) count as
 * started only.
 */
export function withJobMetrics(metrics: ServiceMetrics, type: JobType, processor: JobProcessor): JobProcessor {
  return async (context) => {
    metrics.jobsStarted.inc({ type });
    const startedAt = Date.now();
    const outcome = await processor(context);
    if (!outcome) return outcome;
    const seconds = (Date.now() - startedAt) / 1000;
    metrics.jobDuration.observe({ type, status: outcome.status }, seconds);
    if (outcome.status === 'completed') metrics.jobsCompleted.inc({ type });
    if (outcome.status === 'failed') metrics.jobsFailed.inc({ type });
    if (type === 'import') {
      if (outcome.status === 'completed') metrics.rowsImported.inc(outcome.counts?.rowsSucceeded ?? 0);
      metrics.rowsFailed.inc(outcome.counts?.rowsFailed ?? 0);
    }
    return outcome;
  };
}
