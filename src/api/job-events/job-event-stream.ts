import { PassThrough } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../shared/db/pool.js';
import { findVersionedJob, type VersionedJobRow } from '../../shared/jobs/job-event-queries.js';
import { toJobResource } from '../../shared/jobs/job-row.js';
import type { JobChangeListener } from './job-change-listener.js';

/** Timings of an event stream. */
export interface JobEventTimings {
  /** Comment lines sent while nothing happens, so proxies keep the connection open. */
  heartbeatMs: number;
  /** Shortest gap between two events that only move counts (phase and status changes go at once). */
  countsIntervalMs: number;
  /** How often PostgreSQL is read while the change listener is down. */
  fallbackPollMs: number;
}

export interface JobEventStreamDeps {
  db: Db;
  listener: JobChangeListener;
  logger: FastifyBaseLogger;
  timings: JobEventTimings;
}

/** One SSE event: `job` while the job runs, `end` once (its final state), then the stream ends. */
function formatEvent(name: 'job' | 'end', job: VersionedJobRow): string {
  return `id: ${job.event_version}\nevent: ${name}\ndata: ${JSON.stringify(toJobResource(job))}\n\n`;
}

/**
 * The body of GET /v1/jobs/{id}/events for a job the caller owns (`first`, just read). Every event
 * is built from a fresh read of PostgreSQL, so it never shows a state that PostgreSQL does not
 * hold; a notification only says "read again". Events up to `lastEventId` are not sent again, but
 * an ended job always gets its `end` event so a resuming client learns that it is over.
 */
export function openJobEventStream(
  deps: JobEventStreamDeps,
  accountId: string,
  first: VersionedJobRow,
  lastEventId: number,
): PassThrough {
  const { timings } = deps;
  const body = new PassThrough();
  let sentVersion = lastEventId;
  let sentAt = 0;
  let sentStage = '';
  let reading: Promise<void> | null = null;
  let readAgain = false;
  let throttle: NodeJS.Timeout | undefined;
  let unsubscribe = () => {};
  const over = () => body.writableEnded || body.destroyed;

  const finish = () => {
    clearInterval(heartbeat);
    clearInterval(fallback);
    clearTimeout(throttle);
    unsubscribe();
    if (!over()) body.end();
  };

  const emit = (job: VersionedJobRow) => {
    if (job.status !== 'processing') {
      body.write(formatEvent('end', job));
      finish();
      return;
    }
    if (job.event_version <= sentVersion) return;
    const stage = `${job.status}/${job.phase}`;
    const wait = sentAt + timings.countsIntervalMs - Date.now();
    if (stage === sentStage && wait > 0) {
      throttle ??= setTimeout(() => {
        throttle = undefined;
        refresh();
      }, wait);
      return;
    }
    body.write(formatEvent('job', job));
    sentVersion = job.event_version;
    sentAt = Date.now();
    sentStage = stage;
  };

  /** Reads the job and sends what changed; calls that arrive during a read cause one more read. */
  const refresh = (): void => {
    if (over()) return;
    if (reading) {
      readAgain = true;
      return;
    }
    reading = findVersionedJob(deps.db, accountId, first.id)
      .then((job) => (job ? emit(job) : finish()))
      .catch((error: unknown) => {
        // The client reconnects with Last-Event-ID and resumes where it was.
        deps.logger.warn({ err: error, jobId: first.id }, 'job events: could not read the job; stream closed');
        finish();
      })
      .finally(() => {
        reading = null;
        if (readAgain) {
          readAgain = false;
          refresh();
        }
      });
  };

  const heartbeat = setInterval(() => body.write(': keep-alive\n\n'), timings.heartbeatMs);
  const fallback = setInterval(() => {
    if (!deps.listener.isListening()) refresh();
  }, timings.fallbackPollMs);
  body.on('close', finish);
  // Sent first so the response headers leave at once, whatever comes next.
  body.write(`retry: 2000\n\n`);
  if (first.status !== 'processing') emit(first);
  else {
    void deps.listener.subscribe(first.id, refresh).then((stop) => {
      if (over()) stop();
      else {
        unsubscribe = stop;
        // Subscribed before this read: a change committed from here on is not missed.
        refresh();
      }
    });
  }
  return body;
}
