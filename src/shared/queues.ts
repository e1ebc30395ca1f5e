import { Queue, type DefaultJobOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import { JOB_TYPES, type JobType } from './jobs/job-row.js';
import { createRedisConnection, type RedisConnection, type RedisSettings } from './redis-connection.js';
import { turnBatch } from './turn-batch.js';

export type { RedisConnection } from './redis-connection.js';

/** What a queued BullMQ job carries: our job id and run; the job row in PostgreSQL holds the rest. */
export interface QueuedJob {
  jobId: string;
  /**
   * The run of the job row it was queued for (`run_number`, see migration 016): a worker ends the
   * job from this delivery's failure only while the row is still in that run. Absent on a job
   * queued before runs were numbered, which is settled as before.
   */
  run?: number;
  /**
   * The write conflicts (deadlocks) an attempt of the job has had, each run again without using up
   * the attempt (see withConflictRetry); absent: none. They count for the attempt
   * `conflictsAttempt` names (BullMQ's `attemptsMade` then) alone.
   */
  conflicts?: number;
  conflictsAttempt?: number;
}

/** What a job is queued with: its id and run (the conflicts of an attempt come later). */
type QueuedToRun = Required<Pick<QueuedJob, 'jobId' | 'run'>>;

/** The run number of a job that has never been retried. */
export const FIRST_RUN = 1;

/** BullMQ queue name of each job type. */
export const QUEUE_NAMES: Record<JobType, string> = {
  import: 'imports',
  export: 'exports',
  enrichment: 'enrichments',
};

/** The BullMQ key prefix: the configured prefix in a `{…}` hash tag, so a queue's keys share a Redis Cluster slot. */
export function queuePrefix(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `{${config.QUEUE_PREFIX}}`;
}

/** Retry and retention settings of every queued job. */
export function defaultJobOptions(config: Pick<Config, 'JOB_ATTEMPTS'>): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: 2_000 },
    // PostgreSQL keeps the job's history; Redis only keeps recent finished jobs for the dashboard.
    removeOnComplete: { age: 24 * 3600, count: 1_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5_000 },
  };
}

/** Where a producer's Redis is, and optionally its REDIS_COMMAND_TIMEOUT_MS (else 2 s, its default). */
export type ProducerSettings = string | (Exclude<RedisSettings, string> & Partial<Pick<Config, 'REDIS_COMMAND_TIMEOUT_MS'>>);
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;

/**
 * A Redis connection for a producer (the API): commands fail fast while Redis is unreachable, so
 * a request gets 503 at once instead of hanging. A Redis that hangs with its connection open
 * (frozen, overloaded, a network that drops packets) closes nothing: a command then fails after
 * REDIS_COMMAND_TIMEOUT_MS ("Command timed out", a 503 too). Only for connections that run no
 * blocking command: a worker's (BZPOPMIN and the like wait longer by design) must not have it.
 */
export function createProducerConnection(settings: ProducerSettings, options: RedisOptions = {}): RedisConnection {
  const commandTimeout = (typeof settings === 'string' ? undefined : settings.REDIS_COMMAND_TIMEOUT_MS) ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return createRedisConnection(settings, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false, commandTimeout, ...options });
}

/** Resolves once `connection` is ready, or rejects if it does not get there within `timeoutMs`. */
export async function waitUntilReady(connection: RedisConnection, timeoutMs = 10_000): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${connection.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    connection.once('ready', onReady);
  });
}

/**
 * A Redis connection for workers: BullMQ's blocking commands need unlimited retries per request
 * (on a cluster: on each node's connection, where BullMQ looks for it).
 */
export function createWorkerConnection(settings: RedisSettings, options: RedisOptions = {}): RedisConnection {
  return createRedisConnection(settings, { maxRetriesPerRequest: null, ...options });
}

/** The producer side of the job queues. */
export interface JobQueues {
  /**
   * Queues the run `run` (default {@link FIRST_RUN}) of our job `jobId` of `type`; the BullMQ job
   * id is our job id, so a job is queued once.
   */
  enqueue(type: JobType, jobId: string, run?: number): Promise<void>;
  /** True while the Redis connection is up: the API refuses uploads early (503) when it is not. */
  ready(): boolean;
  /** The queue of one type (for operators' views). */
  queue(type: JobType): Queue<QueuedJob>;
  /**
   * Resolves once the queue of every type has started: BullMQ's first command (a version check)
   * answered. A queue whose start failed (that command timed out on a Redis that hangs) fails
   * every later command: the API does not start serving without them.
   */
  started(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates the queues of every job type on one producer connection. `onError` receives connection
 * errors of the queues (a queue without an 'error' listener would print them to the console).
 */
export function createJobQueues(
  connection: RedisConnection,
  config: Config,
  onError: (error: Error) => void = () => {},
): JobQueues {
  const prefix = queuePrefix(config);
  /**
   * Each type's queue, made when first used, with its `enqueue`: the jobs queued in one turn of
   * the event loop go to Redis in one round trip (one `addBulk` pipeline), a lone one by `add`.
   * `addBulk` is a MULTI/EXEC pipeline, and ioredis copies every script of the connection into
   * each new pipeline: for one job it cost the API twice the CPU of an `add` (120 against 57 µs
   * here), Redis the same. For three or more it takes less of Redis, which every API process shares.
   */
  const types = new Map<JobType, { queue: Queue<QueuedJob>; enqueue: (job: QueuedToRun) => Promise<void> }>();
  const ofType = (type: JobType) => {
    let existing = types.get(type);
    if (!existing) {
      const queue = new Queue<QueuedJob>(QUEUE_NAMES[type], { connection, prefix, defaultJobOptions: defaultJobOptions(config) });
      queue.on('error', onError);
      const batch = turnBatch<QueuedToRun, void>(async (jobs) => {
        if (jobs.length === 1) await queue.add(type, jobs[0]!, { jobId: jobs[0]!.jobId });
        else await queue.addBulk(jobs.map((data) => ({ name: type, data, opts: { jobId: data.jobId } })));
        return jobs.map(() => undefined);
      });
      existing = { queue, enqueue: (job) => batch.load(job) };
      types.set(type, existing);
    }
    return existing;
  };
  return {
    queue: (type) => ofType(type).queue,
    ready: () => connection.status === 'ready',
    async started() {
      await Promise.all(JOB_TYPES.map((type) => ofType(type).queue.waitUntilReady()));
    },
    enqueue: (type, jobId, run = FIRST_RUN) => ofType(type).enqueue({ jobId, run }),
    async close() {
      await Promise.all([...types.values()].map((each) => each.queue.close()));
    },
  };
}
