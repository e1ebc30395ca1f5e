import type { Counter } from 'prom-client';
import type { JobRow } from '../shared/jobs/job-row.js';
import type { JobChangeListener, JobChangeWatcher } from './job-events/job-change-listener.js';

/** Jobs kept at most; past this the oldest is dropped (a Map iterates in insertion order). */
const MAX_ENTRIES = 4_096;

/** Looks an account's job up by id: null for an unknown id or another account's job. */
export type JobFind = (accountId: string, id: string) => Promise<JobRow | null>;

interface Entry {
  row: JobRow;
  /** performance.now() after which the job is read again. */
  freshUntil: number;
}

/** A read of a job under way: stored only if no change of the job was announced while it ran. */
interface Read {
  changed: boolean;
  /** The cache's epoch when the read started: a reset since (listener lost or back) voids it. */
  epoch: number;
}

/**
 * The jobs one API process has read lately, so that clients polling a job do not each make
 * PostgreSQL read its row. Every committed change of a job row is announced on the job-events
 * channel (migrations 012 and 013) and drops the job here as it arrives; an entry lives `ttlMs` at
 * most besides. While the listener is not listening (start, connection lost, reconnecting),
 * nothing is cached or served from the cache: a missed announcement cannot keep a stale job here.
 */
export interface JobCache {
  /** `find` answered from the cache when it holds the job, its reads remembered. */
  finder(find: JobFind): JobFind;
  /** Drops a job this process has just changed (its announcement reaches the listener a moment later). */
  forget(jobId: string): void;
}

/**
 * A cache on `listener`'s announcements; with `ttlMs` 0 it caches nothing and never connects.
 * `reads` counts the finder's answers by `result`: `hit` from the cache, `miss` from PostgreSQL.
 */
export function createJobCache(listener: JobChangeListener, ttlMs: number, reads?: Counter<'result'>): JobCache {
  const hits = reads?.labels('hit');
  const misses = reads?.labels('miss');
  const entries = new Map<string, Entry>();
  const underWay = new Map<string, Set<Read>>();
  let epoch = 0;
  let watching = false;

  const forget = (jobId: string) => {
    entries.delete(jobId);
    for (const read of underWay.get(jobId) ?? []) read.changed = true;
  };
  const watcher: JobChangeWatcher = {
    changed: forget,
    reset() {
      epoch += 1;
      entries.clear();
    },
  };

  const remember = (row: JobRow) => {
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    entries.set(row.id, { row, freshUntil: performance.now() + ttlMs });
  };

  const finder =
    (find: JobFind): JobFind =>
    async (accountId, id) => {
      if (ttlMs === 0) {
        misses?.inc();
        return find(accountId, id);
      }
      if (!watching) {
        watching = true;
        void listener.watch(watcher);
      }
      const entry = entries.get(id);
      if (entry) {
        if (entry.freshUntil > performance.now() && listener.isListening()) {
          hits?.inc();
          return entry.row.account_id === accountId ? entry.row : null;
        }
        entries.delete(id);
      }
      misses?.inc();
      const read: Read = { changed: false, epoch };
      let reads = underWay.get(id);
      if (!reads) underWay.set(id, (reads = new Set()));
      reads.add(read);
      try {
        const row = await find(accountId, id);
        if (row && !read.changed && read.epoch === epoch && listener.isListening()) remember(row);
        return row;
      } finally {
        reads.delete(read);
        if (reads.size === 0 && underWay.get(id) === reads) underWay.delete(id);
      }
    };

  return { finder, forget };
}
