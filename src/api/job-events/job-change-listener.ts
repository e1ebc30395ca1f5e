import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';

/** The PostgreSQL channel on which the jobs table announces changes (migrations/012_job_events.sql). */
const JOB_EVENTS_CHANNEL = 'job_events';

const RECONNECT_MS = 1_000;

/**
 * How often the listening connection is asked a query, and how long it may take to answer (or to
 * connect) before the connection is given up as lost. An idle connection can die without a word:
 * a NAT or load balancer between the service and PostgreSQL forgets it after minutes of silence,
 * and a host gone from the network sends no reset. Its streams would then wait for announcements
 * that never come, and its cache would keep jobs past their changes. The query also keeps such a
 * middlebox from forgetting it.
 */
const PROBE_MS = 5_000;

/** Told of every job's changes: the job cache of an API process. */
export interface JobChangeWatcher {
  /** After each committed change of job `jobId` (or its removal). */
  changed(jobId: string): void;
  /** When notifications stop or start arriving: whatever was read before may have changed unannounced. */
  reset(): void;
}

/** Tells the event streams and the job cache of one API process which jobs changed. */
export interface JobChangeListener {
  /**
   * Calls `onChange` after each committed change of job `jobId`, and for every job after the
   * listener reconnected (notifications sent while it was away are lost). Resolves once listening
   * (or once the first attempt failed: the stream then reads PostgreSQL on its own). Returns the
   * unsubscribe function.
   */
  subscribe(jobId: string, onChange: () => void): Promise<() => void>;
  /** Tells `watcher` of every job's changes from now on, connecting now if not yet connected. */
  watch(watcher: JobChangeWatcher): Promise<void>;
  /** Whether notifications are arriving; while not, streams re-read PostgreSQL on a timer. */
  isListening(): boolean;
  close(): Promise<void>;
}

/**
 * A {@link JobChangeListener} on one dedicated PostgreSQL connection per API process (LISTEN needs
 * a session of its own; a pooled client would lose it). It connects on the first subscriber or
 * watcher, so a process that serves no stream and no job holds no extra connection, and reconnects
 * after losing it.
 */
export function createJobChangeListener(databaseUrl: string, logger: FastifyBaseLogger, probeMs = PROBE_MS): JobChangeListener {
  const subscribers = new Map<string, Set<() => void>>();
  const watchers = new Set<JobChangeWatcher>();
  let client: pg.Client | null = null;
  let connecting: Promise<void> | null = null;
  let listening = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let probeTimer: NodeJS.Timeout | undefined;

  const notifyAll = () => {
    for (const watcher of watchers) watcher.reset();
    for (const callbacks of subscribers.values()) for (const callback of callbacks) callback();
  };

  const scheduleReconnect = () => {
    if (closed || retryTimer || (subscribers.size === 0 && watchers.size === 0)) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, RECONNECT_MS);
  };

  const lose = (lost: pg.Client, error?: unknown) => {
    if (client !== lost) return;
    if (error) logger.warn({ err: error }, 'job events: lost the PostgreSQL listener; streams read PostgreSQL on a timer, polled jobs are not cached');
    client = null;
    listening = false;
    clearInterval(probeTimer);
    for (const watcher of watchers) watcher.reset();
    lost.end().catch(() => {});
    scheduleReconnect();
  };

  /** Asks `listener` a query every `probeMs`; one unanswered (or failed) within `probeMs` loses it. */
  const probe = (listener: pg.Client) => {
    let waiting = false;
    probeTimer = setInterval(() => {
      if (waiting) return lose(listener, new Error(`the listening connection did not answer within ${probeMs} ms`));
      waiting = true;
      listener.query('SELECT 1').then(
        () => {
          waiting = false;
        },
        (error: unknown) => lose(listener, error),
      );
    }, probeMs);
    probeTimer.unref();
  };

  const connect = (): Promise<void> => {
    if (connecting) return connecting;
    if (closed || client) return Promise.resolve();
    connecting = (async () => {
      const next = new pg.Client({ connectionString: databaseUrl });
      next.on('error', (error) => lose(next, error));
      next.on('end', () => lose(next));
      next.on('notification', (message) => {
        const jobId = message.payload ?? '';
        for (const watcher of watchers) watcher.changed(jobId);
        for (const callback of subscribers.get(jobId) ?? []) callback();
      });
      client = next;
      let timer: NodeJS.Timeout | undefined;
      try {
        const late = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`could not listen within ${probeMs} ms`)), probeMs);
        });
        await Promise.race([next.connect().then(() => next.query(`LISTEN ${JOB_EVENTS_CHANNEL}`)), late]);
        if (client !== next) return;
        listening = true;
        probe(next);
        // Changes made while no listener was up were not announced: every stream re-reads once.
        notifyAll();
      } catch (error) {
        lose(next, error);
      } finally {
        clearTimeout(timer);
      }
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  return {
    async subscribe(jobId, onChange) {
      const callbacks = subscribers.get(jobId) ?? new Set();
      callbacks.add(onChange);
      subscribers.set(jobId, callbacks);
      await connect();
      // Idempotent, and it removes only its own set: a second call after the job's last subscriber
      // left and a new stream subscribed must not take the new stream's subscription away.
      return () => {
        callbacks.delete(onChange);
        if (callbacks.size === 0 && subscribers.get(jobId) === callbacks) subscribers.delete(jobId);
      };
    },
    async watch(watcher) {
      watchers.add(watcher);
      await connect();
    },
    isListening: () => listening,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await connecting;
      const last = client;
      client = null;
      listening = false;
      clearInterval(probeTimer);
      for (const watcher of watchers) watcher.reset();
      await last?.end().catch(() => {});
    },
  };
}
