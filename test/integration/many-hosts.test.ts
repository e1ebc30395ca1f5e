import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuePrefix } from '../../src/shared/queues.js';
import { freePort } from '../support/private-redis.js';
import { catalogSnapshot, productsCsv, spawnWorker, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-cluster.js';
import { filesUnder } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The "many hosts" setup end to end: the API in this process and two ROLE=worker processes, each
 * with a data folder of its own, sharing only the bucket (S3 test server), PostgreSQL and a Redis
 * Cluster. Each worker process serves /metrics on its own port, so the test can tell which
 * process completed how many jobs.
 */
const METRICS_TOKEN = 'many-hosts-metrics';
const ACCOUNTS = 3;
const FILES_PER_ACCOUNT = 2;
const ROWS_PER_FILE = 4_000;

interface WorkerHost {
  child: WorkerChild;
  dataDir: string;
  url: string;
}

let cluster: PrivateRedisCluster;
let ctx: TestContext;
const hosts: WorkerHost[] = [];

/** Starts a worker process with its own data folder and listener; resolves once its /readyz is 200. */
async function startWorkerHost(): Promise<WorkerHost> {
  const dataDir = await mkdtemp(join(tmpdir(), 'catalog-many-hosts-'));
  const port = await freePort();
  // One job at a time per process: while one process is busy, the other takes the next job.
  const child = spawnWorker({ ...ctx.env, DATA_DIR: dataDir, WORKER_PORT: String(port), HOST: '127.0.0.1', WORKER_CONCURRENCY: '1' });
  const host = { child, dataDir, url: `http://127.0.0.1:${port}` };
  hosts.push(host);
  await waitFor('the worker process to be ready', async () => {
    if (child.process.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
    const response = await fetch(`${host.url}/readyz`).catch(() => null);
    return response?.status === 200 ? true : undefined;
  }, 60_000, 200);
  return host;
}

/** The value of a counter line (`name{labels} value`) in a worker process's /metrics; 0 when absent. */
async function counter(host: WorkerHost, line: string): Promise<number> {
  const response = await fetch(`${host.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  const found = (await response.text()).split('\n').find((text) => text.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  ctx = await createTestContext({
    storage: 's3',
    workers: false,
    env: { REDIS_CLUSTER_NODES: cluster.nodes, METRICS_TOKEN },
  });
  await Promise.all([startWorkerHost(), startWorkerHost()]);
}, 90_000);
afterAll(async () => {
  try {
    for (const { child } of hosts) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      await child.exited;
    }
    await ctx?.close();
  } finally {
    await cluster?.stop();
    for (const { dataDir } of hosts) await rm(dataDir, { recursive: true, force: true });
  }
});

describe('the API and two worker hosts on object storage and a Redis Cluster', () => {
  it('imports every account’s files with exact counts, the jobs shared between both worker processes', async () => {
    const started: Array<{ account: { id: string; key: string }; jobs: string[] }> = [];
    for (let a = 0; a < ACCOUNTS; a += 1) {
      const account = await ctx.createAccount();
      const jobs: string[] = [];
      for (let file = 0; file < FILES_PER_ACCOUNT; file += 1) {
        const response = await ctx.upload(account.key, productsCsv(file * ROWS_PER_FILE + 1, ROWS_PER_FILE, `Account ${a}`));
        expect(response.statusCode, response.body).toBe(202);
        jobs.push(response.json<{ id: string }>().id);
      }
      started.push({ account, jobs });
    }

    const output = () => hosts.map(({ child }) => child.output()).join('\n---\n');
    for (const { account, jobs } of started) {
      const ended = [];
      for (const id of jobs) ended.push(await ctx.waitForJob(account.key, id, 45_000));
      expect(ended.map((job) => [job.status, job.progress.rows_created, job.progress.rows_updated, job.progress.rows_failed]), output())
        .toEqual(jobs.map(() => ['completed', ROWS_PER_FILE, 0, 0]));
      const catalog = await catalogSnapshot(ctx.db, account.id);
      expect([catalog.count, catalog.distinctEans]).toEqual([FILES_PER_ACCOUNT * ROWS_PER_FILE, FILES_PER_ACCOUNT * ROWS_PER_FILE]);
    }
    const { rows } = await ctx.db.query<{ count: number }>('SELECT count(*)::int AS count FROM products');
    expect(rows[0]!.count).toBe(ACCOUNTS * FILES_PER_ACCOUNT * ROWS_PER_FILE);

    // A process counts a job once it has settled it; the API may report the job a moment earlier.
    const perHost = await waitFor('both processes to have counted every job', async () => {
      const counts = await Promise.all(hosts.map((host) => counter(host, 'catalog_jobs_completed_total{type="import"}')));
      return counts.reduce((sum, count) => sum + count, 0) === ACCOUNTS * FILES_PER_ACCOUNT ? counts : undefined;
    }, 10_000, 100);
    expect(perHost.every((count) => count >= 1), `jobs completed per worker process: ${perHost.join(', ')}`).toBe(true);
    const rowsPerHost = await Promise.all(hosts.map((host) => counter(host, 'catalog_rows_imported_total')));
    expect(rowsPerHost).toEqual(perHost.map((count) => count * ROWS_PER_FILE));

    // The queues the processes shared live on the cluster, on the master of the prefix's slot.
    const prefix = queuePrefix(ctx.config);
    expect(await cluster.keyCount(await cluster.masterOf(prefix), `${prefix}:*`)).toBeGreaterThan(0);

    // Uploads went to the bucket only: no host kept a file in its data folder.
    const local = await Promise.all([ctx.config.DATA_DIR, ...hosts.map(({ dataDir }) => dataDir)].map(filesUnder));
    expect(local.flat()).toEqual([]);
  }, 90_000);
});
