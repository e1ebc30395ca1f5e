import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { checkEvictionPolicy } from '../../src/shared/eviction-policy.js';
import { queuePrefix } from '../../src/shared/queues.js';
import { createRedisConnection } from '../../src/shared/redis-connection.js';
import { untilQueueReady } from '../support/csv.js';
import { FakeProvider } from '../support/fake-provider.js';
import { maxOverlap } from '../support/job-overlap.js';
import { importHeldHalfWay, productsCsv, recoveryEan, waitFor } from '../support/recovery-support.js';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-cluster.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The whole service on a Redis Cluster of three masters with a replica each (REDIS_CLUSTER_NODES):
 * queues, per-minute limits, per-account slots and the cancel channel all use keys in the queue
 * prefix's hash tag, so no command spans two slots; a master failing over mid-run loses no job.
 */
let cluster: PrivateRedisCluster;
let ctx: TestContext;
let provider: FakeProvider;
/** Set by a test to pin the API's clock inside one minute window; null: the real clock. */
let frozenNow: number | null = null;

beforeAll(async () => {
  cluster = await startRedisCluster();
  provider = await FakeProvider.start();
  ctx = await createTestContext({
    clock: () => frozenNow ?? Date.now(),
    env: {
      REDIS_CLUSTER_NODES: cluster.nodes,
      WORKER_CONCURRENCY: '2',
      MAX_JOBS_PER_ACCOUNT: '1',
      TIER_LIMITS: JSON.stringify({ FREE: { per_minute: 1e6, monthly: 1e9 }, PRO: { per_minute: 10, monthly: 1e9 } }),
      UNAUTHENTICATED_RATE_PER_MINUTE: '5',
      ENRICH_PROVIDER_URL: provider.url,
      ENRICH_PROVIDER_RATE_PER_MINUTE: '6000',
      // Deliveries interrupted by the failover are found stalled, and lost jobs queued again, within seconds.
      RECONCILE_INTERVAL_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '5000',
    },
  });
  await untilQueueReady(ctx);
}, 60_000);
afterAll(async () => {
  try {
    await ctx?.close();
    await provider?.close();
  } finally {
    await cluster?.stop();
  }
});

/** Uploads `count` products numbered from `first`; returns the job id. */
async function startImport(key: string, first: number, count: number): Promise<string> {
  const response = await ctx.upload(key, productsCsv(first, count, 'Item'));
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/** Products of an account, counted in PostgreSQL. */
async function productCount(accountId: string): Promise<number> {
  const { rows } = await ctx.db.query<{ count: string }>('SELECT count(*) FROM products WHERE account_id = $1', [accountId]);
  return Number(rows[0]!.count);
}

interface Started {
  account: { id: string; key: string };
  jobs: string[];
}

/** `accounts` accounts each queue `imports` imports of `rows` new products. */
async function startImports(accounts: number, imports: number, rows: number): Promise<Started[]> {
  const started: Started[] = [];
  for (let a = 0; a < accounts; a += 1) {
    const account = await ctx.createAccount();
    const jobs: string[] = [];
    for (let n = 0; n < imports; n += 1) jobs.push(await startImport(account.key, n * rows + 1, rows));
    started.push({ account, jobs });
  }
  return started;
}

/** Waits for every job; checks each completed with all its rows created, and the accounts' totals. */
async function expectAllImported(started: Started[], rows: number): Promise<JobResource[][]> {
  const done: JobResource[][] = [];
  for (const { account, jobs } of started) {
    const ended = [];
    for (const id of jobs) ended.push(await ctx.waitForJob(account.key, id, 90_000));
    expect(ended.map((job) => [job.status, job.progress.rows_created, job.progress.rows_failed])).toEqual(
      jobs.map(() => ['completed', rows, 0]),
    );
    expect(await productCount(account.id)).toBe(jobs.length * rows);
    done.push(ended);
  }
  return done;
}

describe('the service on a Redis Cluster', () => {
  it('imports from several accounts with exact counts, one job per account at a time', async () => {
    const started = await startImports(3, 2, 1_500);
    const done = await expectAllImported(started, 1_500);
    for (const jobs of done) {
      expect(maxOverlap(jobs.map((job) => [Date.parse(job.started_at!), Date.parse(job.finished_at!)]))).toBe(1);
    }
    // The queues live on the cluster, under the prefix's hash tag: all on the master of its slot.
    const pattern = `${queuePrefix(ctx.config)}:*`;
    const master = await cluster.masterOf(queuePrefix(ctx.config));
    const perMaster = await Promise.all((await cluster.masters()).map(async (port) => [port, await cluster.keyCount(port, pattern)] as const));
    expect(perMaster.filter(([, count]) => count > 0).map(([port]) => port)).toEqual([master]);
  }, 120_000);

  it('answers /readyz, and warns about each master whose eviction policy may lose jobs', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    const lines: Array<{ fields: unknown; message: string }> = [];
    const logger = { warn: (fields: unknown, message: string) => lines.push({ fields, message }) };
    // A new connection, as at the service's start: it has yet to connect to most masters.
    const fresh = createRedisConnection(ctx.config);
    const ready = once(fresh, 'ready');
    for (const port of masters) await cluster.configSet(port, 'maxmemory-policy', 'allkeys-lru');
    try {
      await ready;
      await checkEvictionPolicy(fresh, logger as never);
    } finally {
      for (const port of masters) await cluster.configSet(port, 'maxmemory-policy', 'noeviction');
      fresh.disconnect();
    }
    const warned = (port: number) => ({
      fields: { policy: 'allkeys-lru', node: `127.0.0.1:${port}` },
      message: "Redis maxmemory-policy is 'allkeys-lru': set it to 'noeviction' or queued jobs may be evicted",
    });
    const byNode = (line: { fields: unknown }) => (line.fields as { node: string }).node;
    expect(lines.sort((a, b) => byNode(a).localeCompare(byNode(b)))).toEqual(
      [...masters].sort((a, b) => `127.0.0.1:${a}`.localeCompare(`127.0.0.1:${b}`)).map(warned),
    );
  });

  it('answers the 11th request in a minute on a PRO key, also among concurrent ones, and the 6th without a key, with 429', async () => {
    frozenNow = (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 20_000;
    try {
      const created = await ctx.app.inject({
        method: 'POST', url: '/v1/admin/accounts', headers: { authorization: `Bearer ${ADMIN_KEY}` },
        payload: { email: 'pro@example.com', tier: 'PRO' },
      });
      const key = created.json<{ api_key: string }>().api_key;
      for (let request = 1; request <= 10; request += 1) {
        expect((await ctx.get(key, '/v1/jobs')).statusCode, `request ${request}`).toBe(200);
      }
      const limited = await ctx.get(key, '/v1/jobs');
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toMatchObject({ error_code: 'RATE_LIMIT_EXCEEDED', retry_after_seconds: 40 });

      // Requests of several accounts that arrive together are admitted by one script run, on one slot.
      const keys = await Promise.all(
        ['pro-2@example.com', 'pro-3@example.com'].map(async (email) => {
          const account = await ctx.app.inject({
            method: 'POST', url: '/v1/admin/accounts', headers: { authorization: `Bearer ${ADMIN_KEY}` }, payload: { email, tier: 'PRO' },
          });
          return account.json<{ api_key: string }>().api_key;
        }),
      );
      const together = await Promise.all(keys.flatMap((other) => Array.from({ length: 14 }, () => ctx.get(other, '/v1/jobs'))));
      for (let index = 0; index < keys.length; index += 1) {
        const statuses = together.slice(index * 14, (index + 1) * 14).map((response) => response.statusCode);
        expect(statuses.sort()).toEqual([...Array<number>(10).fill(200), ...Array<number>(4).fill(429)]);
      }

      const anonymous = () => ctx.app.inject({ method: 'GET', url: '/v1/jobs' });
      for (let request = 1; request <= 5; request += 1) expect((await anonymous()).statusCode).toBe(401);
      const refused = await anonymous();
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ error_code: 'RATE_LIMIT_EXCEEDED' });
    } finally {
      frozenNow = null;
    }
  });

  it('stops a running import that is cancelled: the cancel reaches the workers over the cluster', async () => {
    const account = await ctx.createAccount();
    // The cancel is sent while the import waits half-way through the file.
    const id = await importHeldHalfWay(ctx, account, 300_000, async (id) => {
      const response = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
      expect(response.statusCode, response.body).toBe(200);
    });
    // Only the cancel message aborts a running delivery with this reason.
    const bullJob = await waitFor('the delivery to stop', async () => {
      const queue = ctx.queues.queue('import');
      return (await queue.getJobState(id)) === 'failed' ? await queue.getJob(id) : undefined;
    }, 10_000);
    expect(bullJob.failedReason).toBe('The job was cancelled.');
    expect(await productCount(account.id)).toBe(0);
  });

  it("enriches within the provider's rate and honours its Retry-After pause (two-key script in one slot)", async () => {
    const account = await ctx.createAccount();
    const eans = Array.from({ length: 20 }, (_, n) => recoveryEan(500_000 + n));
    expect((await ctx.importCsv(account.key, ['ean,name', ...eans.map((ean) => `${ean},Product`)].join('\n'))).status).toBe('completed');
    for (const ean of eans) provider.products.set(ean, { brand: 'Cluster' });
    provider.reset();
    provider.scriptNext({ status: 429, retryAfterSeconds: 1 });
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: {} });
    expect(response.statusCode, response.body).toBe(202);
    const job = await ctx.waitForJob(account.key, response.json<{ id: string }>().id, 60_000);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 20, rows_failed: 0 } });
    expect(provider.count(429)).toBe(1);
  });

  it('finishes every import with exact counts when the queue’s master fails over mid-run (CLUSTER FAILOVER)', async () => {
    const started = await startImports(4, 3, 2_000);
    const all = started.flatMap(({ account, jobs }) => jobs.map((id) => ({ key: account.key, id })));
    const completed = async () => {
      const statuses = await Promise.all(all.map(async ({ key, id }) => (await ctx.get(key, `/v1/jobs/${id}`)).json<JobResource>().status));
      return statuses.filter((status) => status === 'completed').length;
    };
    // Mid-run: once the first job has completed, the others are running or queued.
    await expect.poll(completed, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    const oldMaster = await cluster.masterOf(queuePrefix(ctx.config));
    const newMaster = await cluster.failover(queuePrefix(ctx.config));
    expect(newMaster).not.toBe(oldMaster);
    expect(await cluster.masterOf(queuePrefix(ctx.config))).toBe(newMaster);
    // The failover happened while jobs were still queued or running.
    expect(await completed()).toBeLessThan(all.length);

    await expectAllImported(started, 2_000);
    // A job queued after the failover runs too.
    const late = await ctx.createAccount();
    const job = await ctx.waitForJob(late.key, await startImport(late.key, 1, 500), 60_000);
    expect([job.status, job.progress.rows_created]).toEqual(['completed', 500]);
  }, 180_000);

  it('reaches the promoted replica within seconds when the queue’s master hangs (SIGSTOP) instead of going down', async () => {
    const account = await ctx.createAccount();
    const { frozen, promoted, thaw } = await cluster.freeze(queuePrefix(ctx.config));
    try {
      expect(await cluster.masterOf(queuePrefix(ctx.config))).toBe(promoted);
      // The frozen master sends neither MOVED nor a closed connection: only a slot map refresh finds the new one.
      await expect.poll(async () => (await ctx.get(account.key, '/v1/jobs')).statusCode, { timeout: 15_000, interval: 250 }).toBe(200);
      const job = await ctx.waitForJob(account.key, await startImport(account.key, 1, 500), 30_000);
      expect([job.status, job.progress.rows_created, job.progress.rows_failed]).toEqual(['completed', 500, 0]);
      expect(await productCount(account.id)).toBe(500);
      expect(frozen).not.toBe(promoted);
    } finally {
      thaw();
    }
  }, 90_000);
});
