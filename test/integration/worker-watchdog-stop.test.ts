import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { createWorkerConnection } from '../../src/shared/queues.js';
import type { RedisConnection } from '../../src/shared/redis-connection.js';
import { WorkerWatchdog } from '../../src/workers/worker-watchdog.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';

/**
 * A watchdog check that is waiting for Redis when shutdown stops the watchdog must not start a
 * replacement Worker once Redis answers: nothing would close it, and the worker process would not
 * end. (A private Redis, frozen to hold the check up.)
 */
let redis: PrivateRedis;
let connection: RedisConnection;
let queue: Queue;
const made: Worker[] = [];

beforeAll(async () => {
  redis = await startPrivateRedis();
  connection = createWorkerConnection(redis.url);
  queue = new Queue('stopping', { connection, prefix: '{watchdog-stop}' });
});

afterAll(async () => {
  redis.thaw();
  await Promise.all(made.map((worker) => worker.close(true).catch(() => {})));
  await queue.close();
  connection.disconnect();
  await redis.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('starts no replacement Worker when a check held up by Redis ends after the watchdog was stopped', async () => {
  const watchdog = new WorkerWatchdog({
    connection,
    prefix: '{watchdog-stop}',
    stuckAfterMs: 600,
    handBackReason: 'shutdown',
    logger: createLogger('silent'),
  });
  watchdog.add((track) => {
    // A Worker that never takes jobs: found stuck once the job has waited 600 ms.
    const worker = new Worker('stopping', track(async () => {}), { connection, prefix: '{watchdog-stop}', autorun: false });
    made.push(worker);
    return worker;
  });
  await queue.add('waiting', {});
  watchdog.start();
  // The first checks see the job waiting; then Redis stops answering and a check waits on it.
  await sleep(450);
  redis.freeze();
  await sleep(1_200);
  const stopped = watchdog.stop();
  redis.thaw();
  await stopped;
  await sleep(1_000);
  expect(made).toHaveLength(1);
}, 20_000);
