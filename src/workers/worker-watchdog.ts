import { Queue, type Job, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisConnection } from '../shared/redis-connection.js';

/** A BullMQ processor, with the three parameters BullMQ looks for to pass the abort signal. */
export type Processor<T> = (job: Job<T>, token: string | undefined, signal: AbortSignal | undefined) => Promise<unknown>;

/** Wraps a Worker's processor so the watchdog sees each delivery start and end. */
export type Track = <T>(processor: Processor<T>) => Processor<T>;

/** How long closing a Worker found stuck may take before its connections are dropped instead. */
const STUCK_CLOSE_TIMEOUT_MS = 5_000;
/** How many of a queue's waiting jobs a check looks at. */
const SAMPLE = 20;

/** The deliveries of one Worker instance. */
interface Deliveries {
  started: number;
  running: number;
}

/** One supervised Worker: replaced by a new instance from `create` when found stuck. */
interface Slot {
  create: (track: Track) => Worker;
  worker: Worker;
  deliveries: Deliveries;
  queue: Queue;
  /** Since when jobs wait while this Worker has a free slot and starts none, and which of them waited then. */
  idleSince: { at: number; started: number; jobs: Set<string> } | null;
  /** Found stuck and replaced; the replacement has not been seen taking jobs yet. */
  replaced: boolean;
}

export interface WatchdogOptions {
  connection: RedisConnection;
  prefix: string;
  /** A Worker whose queue has a job waiting all this time while the Worker, with a free slot, starts none is stuck. */
  stuckAfterMs: number;
  /** The abort reason given to the deliveries a replaced Worker still runs, so they go back to the queue. */
  handBackReason: string;
  logger: Logger;
}

/**
 * Watches that each Worker takes jobs, and replaces one that does not. A healthy Worker with a free
 * slot takes a waiting job at once (woken by the queue's marker) or within one block timeout of
 * BullMQ (at most 10 s) when the marker was lost. After Redis Cluster failovers a Worker's main
 * loop can stop for good while its connections look ready: jobs then wait forever. So a Worker is
 * stuck when, for `stuckAfterMs`, the same jobs stay waiting in its queue (not delayed: a job held
 * back by the per-account limit is delayed), the queue is not paused, and the Worker has a free
 * slot and starts no delivery. Jobs taken meanwhile by other processes are not waiting any more,
 * so they do not count. A stuck Worker is logged, closed with force, and replaced by a new one on
 * a fresh blocking connection (deliveries it still runs are handed back to the queue); readiness
 * fails from then until the replacement takes a job.
 */
export class WorkerWatchdog {
  /** The Workers now, replaced in place: readers (the cancel listener, readiness) see the new ones. */
  readonly workers: Worker[] = [];
  private readonly slots: Slot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(private readonly options: WatchdogOptions) {}

  /** Supervises the Worker that `create` makes (again, when it must be replaced). */
  add(create: (track: Track) => Worker): Worker {
    const deliveries: Deliveries = { started: 0, running: 0 };
    const worker = create(trackInto(deliveries));
    const queue = new Queue(worker.name, { connection: this.options.connection, prefix: this.options.prefix });
    queue.on('error', (error) => this.options.logger.warn({ err: error, queue: worker.name }, 'worker watchdog queue error'));
    this.slots.push({ create, worker, deliveries, queue, idleSince: null, replaced: false });
    this.workers.push(worker);
    return worker;
  }

  /** Checks every third of `stuckAfterMs`, so a stuck Worker is found between one and 1⅓ times it. */
  start(): void {
    const every = Math.max(Math.floor(this.options.stuckAfterMs / 3), 100);
    this.timer = setInterval(() => void this.checkAll(), every);
    this.timer.unref();
  }

  /** False while a Worker found stuck has not been seen taking jobs again. */
  healthy(): boolean {
    return this.slots.every((slot) => !slot.replaced);
  }

  /** Stops checking (the Workers are closed by their owner) and closes the watchdog's queues. */
  async stop(): Promise<void> {
    // A check may be waiting for Redis now: once stopped, it replaces nothing (nothing would close the new Worker).
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all(this.slots.map((slot) => slot.queue.close().catch(() => {})));
  }

  private async checkAll(): Promise<void> {
    // A check waits for Redis (a failover may hold a command up to a minute): never two at once.
    if (this.checking) return;
    this.checking = true;
    try {
      for (const slot of this.slots) await this.check(slot);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'worker watchdog check failed');
    } finally {
      this.checking = false;
    }
  }

  private async check(slot: Slot): Promise<void> {
    const { worker, deliveries } = slot;
    if (worker.closing) return;
    if (slot.replaced && deliveries.started > 0) this.recovered(slot);
    const waiting = deliveries.running < worker.concurrency && !(await slot.queue.isPaused())
      ? // The oldest waiting jobs: under a steady stream of new ones, the newest change at every check.
        await slot.queue.getRanges(['wait'], 0, SAMPLE - 1, true)
      : [];
    if (waiting.length === 0) {
      if (slot.replaced) this.recovered(slot);
      slot.idleSince = null;
      return;
    }
    const now = Date.now();
    const since = slot.idleSince;
    const stillWaiting = since ? waiting.filter((id) => since.jobs.has(id)) : [];
    if (!since || since.started !== deliveries.started || stillWaiting.length === 0) {
      slot.idleSince = { at: now, started: deliveries.started, jobs: new Set(waiting) };
      return;
    }
    since.jobs = new Set(stillWaiting);
    if (now - since.at >= this.options.stuckAfterMs) await this.replace(slot, stillWaiting, now - since.at);
  }

  private recovered(slot: Slot): void {
    slot.replaced = false;
    this.options.logger.info({ queue: slot.worker.name }, 'replaced worker takes jobs');
  }

  /** Closes a stuck Worker with force (dropping its connections if even that hangs) and starts a new one. */
  private async replace(slot: Slot, waiting: string[], idleMs: number): Promise<void> {
    const { logger } = this.options;
    const old = slot.worker;
    if (this.stopped || old.closing) return;
    slot.replaced = true;
    slot.idleSince = null;
    logger.error(
      { queue: old.name, waitingJobs: waiting, idleMs },
      'worker takes no jobs while jobs wait in its queue: replacing it with a new worker on a fresh connection',
    );
    const deliveries: Deliveries = { started: 0, running: 0 };
    slot.deliveries = deliveries;
    slot.worker = slot.create(trackInto(deliveries));
    this.workers[this.workers.indexOf(old)] = slot.worker;
    old.cancelAllJobs(this.options.handBackReason);
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      old.close(true).then(() => true, () => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STUCK_CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!closed) {
      logger.warn({ queue: old.name }, 'stuck worker did not close: dropping its blocking connection');
      dropBlockingConnection(old).catch(() => {});
    }
  }
}

/**
 * Drops the Worker's own blocking connection, the one its stuck loop waits on. Not
 * `Worker.disconnect()`: that also ends the connection every Worker of the process shares
 * (`deps.connection`), which would stop the replacement and all the others.
 */
async function dropBlockingConnection(worker: Worker): Promise<void> {
  const blocking = await worker.getBackend().blockingClient;
  blocking?.disconnect();
}

/** A Track that counts into `deliveries`. */
function trackInto(deliveries: Deliveries): Track {
  return <T>(processor: Processor<T>): Processor<T> =>
    async (job, token, signal) => {
      deliveries.started += 1;
      deliveries.running += 1;
      try {
        return await processor(job, token, signal);
      } finally {
        deliveries.running -= 1;
      }
    };
}
