import { PassThrough } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../shared/db/pool.js';
import type { AppError } from '../../shared/http/app-error.js';
import { envelopeOf } from '../../shared/http/error-envelope.js';
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

/** Reads a job of an account with its event version (null: gone). */
export type JobRead = (accountId: string, jobId: string) => Promise<VersionedJobRow | null>;

/**
 * Reads of PostgreSQL shared by the streams of one job: a notification reaches every stream of
 * the job at once, and they all take the result of one read that starts after the last of them
 * asked (so none is older than the change it was told of), instead of a read each.
 */
export function sharedJobReads(db: Db): JobRead {
  const queued = new Map<string, Promise<VersionedJobRow | null>>();
  const running = new Map<string, Promise<unknown>>();
  return (accountId, jobId) => {
    const key = `${accountId}/${jobId}`;
    const waiting = queued.get(key);
    if (waiting) return waiting;
    // Starts when the read under way has ended (it may predate this caller's change), and at the
    // earliest after the callers of this turn of the event loop have joined.
    const read = (running.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        queued.delete(key);
        running.set(key, read);
        return findVersionedJob(db, accountId, jobId);
      })
      .finally(() => {
        if (running.get(key) === read) running.delete(key);
      });
    queued.set(key, read);
    return read;
  };
}

export interface JobEventStreamDeps {
  readJob: JobRead;
  listener: JobChangeListener;
  logger: FastifyBaseLogger;
  timings: JobEventTimings;
}

/** One SSE event: `job` while the job runs, `end` once (its final state), then the stream ends. */
function formatEvent(name: 'job' | 'end', job: VersionedJobRow): string {
  return `id: ${job.event_version}\nevent: ${name}\ndata: ${JSON.stringify(toJobResource(job))}\n\n`;
}

/**
 * The event that ends a stream whose key stopped working: `data` is the envelope the key's next
 * request gets (API.md §1), with that answer's `status`. It has no `id`, so that a client's
 * Last-Event-ID stays the last state it got.
 */
function formatErrorEvent(error: AppError): string {
  return `event: error\ndata: ${JSON.stringify({ ...envelopeOf(error), status: error.status })}\n\n`;
}

/** An open event stream: its body, and the way to end it early. */
export interface JobEventStreamHandle {
  readonly body: PassThrough;
  /** Ends the stream with an `error` event carrying `error`, unless it has ended already. */
  refuse(error: AppError): void;
}

/**
 * The body of GET /v1/jobs/{id}/events for one job the caller owns. Every event is built from a
 * fresh read of PostgreSQL, so it never shows a state that PostgreSQL does not hold; a notification
 * only says "read again". Events up to the client's Last-Event-ID are not sent again, but an ended
 * job always gets its `end` event so that a resuming client learns that it is over.
 */
class JobEventStream implements JobEventStreamHandle {
  readonly body = new PassThrough();
  private sentVersion: number;
  private sentAt = 0;
  private sentStage = '';
  private reading = false;
  private readAgain = false;
  private throttle: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe = () => {};

  constructor(
    private readonly deps: JobEventStreamDeps,
    private readonly accountId: string,
    private readonly jobId: string,
    lastEventId: number,
  ) {
    this.sentVersion = lastEventId;
    this.body.on('close', () => this.finish());
  }

  /** Sends what `first` (just read) calls for, then follows the job until it ends or the client leaves. */
  start(first: VersionedJobRow): void {
    const { timings, listener } = this.deps;
    // Written first so the response headers leave at once, whatever comes next.
    this.body.write('retry: 2000\n\n');
    if (first.status !== 'processing') return this.emit(first);
    this.timers.push(
      setInterval(() => this.body.write(': keep-alive\n\n'), timings.heartbeatMs),
      setInterval(() => listener.isListening() || this.refresh(), timings.fallbackPollMs),
    );
    void listener.subscribe(this.jobId, () => this.refresh()).then((stop) => {
      if (this.over()) return stop();
      this.unsubscribe = stop;
      // Subscribed before this read: a change committed from here on is not missed.
      this.refresh();
    });
  }

  refuse(error: AppError): void {
    if (this.over()) return;
    this.body.write(formatErrorEvent(error));
    this.finish();
  }

  private over(): boolean {
    return this.body.writableEnded || this.body.destroyed;
  }

  private finish(): void {
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.throttle);
    this.unsubscribe();
    if (!this.over()) this.body.end();
  }

  /** Sends the job's state unless the client has it; counts-only changes wait out the interval. */
  private emit(job: VersionedJobRow): void {
    if (job.status !== 'processing') {
      this.body.write(formatEvent('end', job));
      return this.finish();
    }
    if (job.event_version <= this.sentVersion) return;
    const stage = `${job.status}/${job.phase}`;
    const wait = this.sentAt + this.deps.timings.countsIntervalMs - Date.now();
    if (stage === this.sentStage && wait > 0) {
      this.throttle ??= setTimeout(() => {
        this.throttle = undefined;
        this.refresh();
      }, wait);
      return;
    }
    this.body.write(formatEvent('job', job));
    this.sentVersion = job.event_version;
    this.sentAt = Date.now();
    this.sentStage = stage;
  }

  /** Reads the job and sends what changed; calls that arrive during a read cause one more read. */
  private refresh(): void {
    if (this.over()) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    this.deps
      .readJob(this.accountId, this.jobId)
      .then((job) => (job ? this.emit(job) : this.finish()))
      .catch((error: unknown) => {
        // The client reconnects with Last-Event-ID and resumes where it was.
        this.deps.logger.warn({ err: error, jobId: this.jobId }, 'job events: could not read the job; stream closed');
        this.finish();
      })
      .finally(() => {
        this.reading = false;
        if (this.readAgain) {
          this.readAgain = false;
          this.refresh();
        }
      });
  }
}

/** Opens the event stream of `first` (the caller's job, just read) after the client's `lastEventId`. */
export function openJobEventStream(
  deps: JobEventStreamDeps,
  accountId: string,
  first: VersionedJobRow,
  lastEventId: number,
): JobEventStreamHandle {
  const stream = new JobEventStream(deps, accountId, first.id, lastEventId);
  stream.start(first);
  return stream;
}
