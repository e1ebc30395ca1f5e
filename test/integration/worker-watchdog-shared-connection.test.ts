import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { afterAll, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { createWorkerConnection } from '../../src/shared/queues.js';
import { WorkerWatchdog } from '../../src/workers/worker-watchdog.js';
import { waitFor } from '../support/recovery-support.js';

/**
 * A stuck Worker that does not even close is let go by dropping its own blocking connection, not
 * the connection every Worker of the process shares: the replacement (and every other Worker)
 * goes on taking jobs.
 */
const redisUrl = inject('redisUrl');
const connection = createWorkerConnection(redisUrl);
const producer = createWorkerConnection(redisUrl);
const prefix = `{watchdog-${randomUUID().slice(0, 8)}}`;
const queue = new Queue('stuck', { connection: producer, prefix });
let watchdog: WorkerWatchdog | undefined;

afterAll(async () => {
  await watchdog?.stop();
  await Promise.all(watchdog?.workers.slice(1).map((worker) => worker.close(true)) ?? []);
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  connection.disconnect();
  producer.disconnect();
});

/** A Worker whose loop never runs and whose close never ends, as one stuck after failovers. */
class WedgedWorker extends Worker {
  override close(): Promise<void> {
    return new Promise(() => {});
  }
}

it('keeps the shared connection when it drops a stuck Worker that will not close, and the replacement takes jobs', async () => {
  const done: string[] = [];
  let made = 0;
  watchdog = new WorkerWatchdog({ connection, prefix, stuckAfterMs: 1_000, handBackReason: 'shutdown', logger: createLogger('silent') });
  watchdog.add((track) => {
    made += 1;
    const processor = track(async (job) => {
      done.push(job.name);
    });
    const options = { connection, prefix, concurrency: 2 };
    return made === 1 ? new WedgedWorker('stuck', processor, { ...options, autorun: false }) : new Worker('stuck', processor, options);
  });
  await queue.add('first', {});
  watchdog.start();
  await waitFor('the replacement to take the first job', async () => (done.includes('first') ? true : undefined), 20_000);
  // The wedged Worker's close is given up on after a while; then only its own connection goes.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  expect(connection.status).toBe('ready');
  await queue.add('second', {});
  await waitFor('the replacement to take the second job', async () => (done.includes('second') ? true : undefined), 15_000);
  expect(made).toBe(2);
  expect(watchdog.healthy()).toBe(true);
}, 60_000);
