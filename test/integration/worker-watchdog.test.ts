import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { createMetrics } from '../../src/shared/metrics.js';
import { queuePrefix } from '../../src/shared/queues.js';
import { buildWorkerListener } from '../../src/workers/worker-listener.js';
import { untilQueueReady } from '../support/csv.js';
import { productsCsv, waitFor } from '../support/recovery-support.js';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-cluster.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A Worker whose main loop stops after Redis Cluster failovers (its blocking connection still
 * `ready`, nothing blocked in BZPOPMIN, jobs waiting for ever) is found by the workers' watchdog,
 * fails readiness, and is replaced by a Worker that takes the jobs.
 */
const STUCK_AFTER_MS = 3_000;
let cluster: PrivateRedisCluster;
let ctx: TestContext;
/** The listener of a ROLE=worker process (WORKER_PORT) over the in-process workers. */
let listener: FastifyInstance;

beforeAll(async () => {
  cluster = await startRedisCluster();
  ctx = await createTestContext({
    env: { REDIS_CLUSTER_NODES: cluster.nodes, WORKER_CONCURRENCY: '2', WORKER_STUCK_AFTER_MS: String(STUCK_AFTER_MS) },
  });
  await untilQueueReady(ctx);
  const workers = ctx.workers!;
  listener = buildWorkerListener({ db: ctx.db, redis: ctx.redis, redisPrefix: queuePrefix(ctx.config), workers, metrics: createMetrics(), logger: createLogger('silent') });
  await Promise.all(workers.workers.map((worker) => worker.waitUntilReady()));
}, 60_000);
afterAll(async () => {
  try {
    await listener?.close();
    await ctx?.close();
  } finally {
    await cluster?.stop();
  }
});

/** Whether the node at `port` is a replica whose link to its master is up and synced. */
async function replicaInSync(port: number): Promise<boolean> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('replication');
    return info.includes('role:slave') && info.includes('master_link_status:up') && !info.includes('master_sync_in_progress:1');
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

const readyz = () => listener.inject({ method: 'GET', url: '/readyz' });
const importsWorker = () => ctx.workers!.workers.find((worker) => worker.name === 'imports')!;

/**
 * Leaves `worker`'s main loop waiting for ever on its next fetch, as after the failovers: the
 * fetch of a job (moveToActive) never answers, while its connections stay up.
 */
function wedgeFetch(worker: Worker): void {
  const backend = worker.getBackend() as unknown as { moveToActive: () => Promise<unknown> };
  backend.moveToActive = () => new Promise(() => {});
}

describe("the workers' watchdog on a Redis Cluster", () => {
  it('replaces a Worker that stopped taking jobs after failovers: readiness fails meanwhile, the job completes', async () => {
    const account = await ctx.createAccount();
    // The queue's master fails over twice; the workers go on taking jobs.
    for (let round = 0; round < 2; round += 1) {
      const before = await cluster.masterOf(queuePrefix(ctx.config));
      // A node may not know its replica yet just after the cluster (or the last failover) settled,
      // and on a loaded machine the nodes may take longer than one try allows to agree on the new
      // master: the failover is tried again (the failovers only set the scene; the stuck loop is
      // made below).
      const after = await waitFor('a replica to take over', () => cluster.failover(queuePrefix(ctx.config)).catch((error: Error) => {
        if (/has no replica|within \d+ ms/.test(error.message)) return undefined;
        throw error;
      }), 90_000, 200);
      expect(typeof after).toBe('number');
      // The old master, now a replica, has to be in sync before it can take over again.
      // (A failover tried again may have gone back to the old master; the next round's failover waits then.)
      if (after !== before) {
        await waitFor('the old master to replicate the new one', async () => ((await replicaInSync(before)) ? true : undefined), 60_000, 100);
      }
    }
    const first = await ctx.importCsv(account.key, productsCsv(1, 10, 'First'));
    expect(first.status).toBe('completed');
    expect((await readyz()).statusCode).toBe(200);

    const stuck = importsWorker();
    wedgeFetch(stuck);
    const upload = await ctx.upload(account.key, productsCsv(11, 10, 'Second'));
    expect(upload.statusCode, upload.body).toBe(202);
    const id = upload.json<{ id: string }>().id;

    // Readiness tells the truth: 503 (workers unavailable) once the Worker is found stuck (checked
    // every third of STUCK_AFTER_MS; a loaded machine, its Cluster just failed over twice, needed more than 9 s).
    const started = Date.now();
    const down = await waitFor('/readyz to fail', async () => {
      const response = await readyz();
      return response.statusCode === 503 ? response : undefined;
    }, STUCK_AFTER_MS * 6, 20);
    expect(down.json()).toMatchObject({ checks: { postgres: 'ok', redis: 'ok', workers: 'unavailable' } });
    expect(Date.now() - started).toBeGreaterThan(STUCK_AFTER_MS / 2);

    // A new Worker takes the job; readiness is back once it has.
    const job = await ctx.waitForJob(account.key, id, 20_000);
    expect([job.status, job.progress.rows_created]).toEqual(['completed', 10]);
    expect(importsWorker()).not.toBe(stuck);
    await waitFor('/readyz to be ok again', async () => ((await readyz()).statusCode === 200 ? true : undefined), STUCK_AFTER_MS * 2);
  }, 300_000);

  it('leaves an idle Worker alone: no waiting job, no replacement', async () => {
    const idle = importsWorker();
    await new Promise((resolve) => setTimeout(resolve, STUCK_AFTER_MS * 2));
    expect(importsWorker()).toBe(idle);
    expect((await readyz()).statusCode).toBe(200);
  });
});
