import type { JobType } from '../shared/jobs/job-row.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import { CANCEL_REASON, type JobProcessor } from './job-processor.js';

/**
 * Counts the attempts `processor` starts and the jobs it ends (completed, failed or cancelled,
 * with their duration and, for imports, rows written and rows failed). Duplicate deliveries (null) count as
 * started only. A job failed because its attempts ran out is counted where it is failed, by
 * failAfterAttempts: an attempt that throws does not know whether it was the last.
 */
export function withJobMetrics(metrics: ServiceMetrics, type: JobType, processor: JobProcessor): JobProcessor {
  return async (context) => {
    metrics.jobsStarted.inc({ type });
    const startedAt = Date.now();
    // A job cancelled while this attempt ran (the cancel request already ended its row) ends the
    // attempt with a throw, or with null where the processor found the row ended: without this
    // count it would look started and never ended.
    const countCancel = () => {
      if (!context.signal.aborted || context.signal.reason !== CANCEL_REASON) return;
      metrics.jobsCancelled.inc({ type });
      metrics.jobDuration.observe({ type, status: 'cancelled' }, (Date.now() - startedAt) / 1000);
    };
    let outcome: Awaited<ReturnType<JobProcessor>>;
    try {
      outcome = await processor(context);
    } catch (error) {
      countCancel();
      throw error;
    }
    if (!outcome) {
      countCancel();
      return outcome;
    }
    const seconds = (Date.now() - startedAt) / 1000;
    metrics.jobDuration.observe({ type, status: outcome.status }, seconds);
    if (outcome.status === 'completed') metrics.jobsCompleted.inc({ type });
    if (outcome.status === 'failed') metrics.jobsFailed.inc({ type });
    if (type === 'import') {
      // Rows written only: a dry run writes none, and an unchanged row is valid but left as it was.
      const written = (outcome.counts?.rowsCreated ?? 0) + (outcome.counts?.rowsUpdated ?? 0);
      if (outcome.status === 'completed' && !outcome.dryRun) metrics.rowsImported.inc(written);
      metrics.rowsFailed.inc(outcome.counts?.rowsFailed ?? 0);
    }
    return outcome;
  };
}
