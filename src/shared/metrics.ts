import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_TYPES, type JobType } from './jobs/job-row.js';
import { QUEUE_NAMES } from './queues.js';

/** Queue states reported by the queue depth gauge. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Reads the job counts of one queue (BullMQ `getJobCounts`), on each scrape. */
export type QueueCountsReader = (type: JobType) => Promise<Partial<Record<QueueState, number>>>;

/** What the queue gauges read from Redis on each scrape, per queue. */
export interface QueueReaders {
  counts: QueueCountsReader;
  /** Whether the queue is paused (BullMQ `isPaused`): its workers take none of its jobs. */
  isPaused: (type: JobType) => Promise<boolean>;
}

/**
 * The service's Prometheus metrics, on a registry of its own: a process (or a test) that builds
 * several apps gets one registry each instead of clashing in prom-client's global default one.
 */
export interface ServiceMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  jobsStarted: Counter<'type'>;
  jobsCompleted: Counter<'type'>;
  jobsFailed: Counter<'type'>;
  /** Jobs whose running attempt stopped because the job was cancelled. */
  jobsCancelled: Counter<'type'>;
  jobDuration: Histogram<'type' | 'status'>;
  rowsImported: Counter;
  rowsFailed: Counter;
  /** Polls of one job (GET /v1/jobs/{id}) by where they were answered from: the process's job cache (`hit`) or PostgreSQL (`miss`). */
  jobCacheReads: Counter<'result'>;
  /** Calls to the EAN lookup provider, by what each answered ({@link PROVIDER_CALL_RESULTS}). */
  providerCalls: Counter<'result'>;
  /** Makes the queue gauges (depth by state, paused) read these queues on each scrape. */
  watchQueues(read: QueueReaders): void;
}

/** What one call to the EAN lookup provider answered, as `catalog_enrich_provider_calls_total` counts it. */
export const PROVIDER_CALL_RESULTS = [
  'found',
  'not_found',
  'other_ean',
  'invalid',
  'rate_limited',
  'quota',
  'redirect',
  'refused',
  'server_error',
  'timeout',
  'network',
] as const;
export type ProviderCallResult = (typeof PROVIDER_CALL_RESULTS)[number];

/** Creates the metrics of one process, with Node's default metrics (event-loop lag, memory, CPU). */
export function createMetrics(): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'catalog_' });
  const registers = [registry];
  let readers: QueueReaders | null = null;
  const queues = Object.entries(QUEUE_NAMES) as Array<[JobType, string]>;
  new Gauge({
    name: 'catalog_queue_jobs',
    help: 'Jobs in each BullMQ queue by state, read from Redis on each scrape.',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      if (!readers) return;
      for (const [type, queue] of queues) {
        const counts = await readers.counts(type).catch(() => null);
        if (!counts) continue;
        for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  // A paused queue keeps taking jobs (they wait) and runs none: its depth alone looks like a busy queue.
  new Gauge({
    name: 'catalog_queue_paused',
    help: 'Whether each BullMQ queue is paused (1) or not (0): a paused queue runs none of its jobs. Read from Redis on each scrape.',
    labelNames: ['queue'],
    registers,
    async collect() {
      this.reset();
      if (!readers) return;
      for (const [type, queue] of queues) {
        const paused = await readers.isPaused(type).catch(() => null);
        if (paused !== null) this.set({ queue }, paused ? 1 : 0);
      }
    },
  });
  const metrics: ServiceMetrics = {
    registry,
    httpDuration: new Histogram({
      name: 'catalog_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    jobsStarted: new Counter({ name: 'catalog_jobs_started_total', help: 'Job attempts started, by type.', labelNames: ['type'], registers }),
    jobsCompleted: new Counter({ name: 'catalog_jobs_completed_total', help: 'Jobs completed, by type.', labelNames: ['type'], registers }),
    jobsFailed: new Counter({ name: 'catalog_jobs_failed_total', help: 'Jobs failed, by type.', labelNames: ['type'], registers }),
    jobsCancelled: new Counter({
      name: 'catalog_jobs_cancelled_total',
      help: 'Jobs cancelled while an attempt ran, by type.',
      labelNames: ['type'],
      registers,
    }),
    jobDuration: new Histogram({
      name: 'catalog_job_duration_seconds',
      help: 'Duration of job attempts that ended the job, by type and outcome.',
      labelNames: ['type', 'status'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    rowsImported: new Counter({ name: 'catalog_rows_imported_total', help: 'Rows written (created or updated) by completed imports; dry runs write none.', registers }),
    rowsFailed: new Counter({ name: 'catalog_rows_failed_total', help: 'Rows of imports that failed validation.', registers }),
    jobCacheReads: new Counter({
      name: 'catalog_job_cache_reads_total',
      help: "Polls of one job (GET /v1/jobs/{id}) by where they were answered from: this process's job cache (hit) or PostgreSQL (miss).",
      labelNames: ['result'],
      registers,
    }),
    providerCalls: new Counter({
      name: 'catalog_enrich_provider_calls_total',
      help: 'Calls to the EAN lookup provider by answer: found, not_found, other_ean, invalid (2xx not a JSON object), rate_limited, quota, redirect, refused (other 4xx), server_error (5xx), timeout, network.',
      labelNames: ['result'],
      registers,
    }),
    watchQueues(read) {
      readers = read;
    },
  };
  // Every type's series from the start, at 0: a rate over a series that appears late misses its first jobs.
  for (const type of JOB_TYPES) {
    for (const counter of [metrics.jobsStarted, metrics.jobsCompleted, metrics.jobsFailed, metrics.jobsCancelled]) counter.inc({ type }, 0);
  }
  for (const result of ['hit', 'miss']) metrics.jobCacheReads.inc({ result }, 0);
  for (const result of PROVIDER_CALL_RESULTS) metrics.providerCalls.inc({ result }, 0);
  return metrics;
}
