import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobCache, type JobFind } from '../../src/api/job-cache.js';
import { createJobChangeListener, type JobChangeListener } from '../../src/api/job-events/job-change-listener.js';
import { jobFinder, startJobAttempt } from '../../src/shared/jobs/job-queries.js';
import { clearInputPath } from '../../src/workers/cleanup-queries.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { deleteJobRow } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** No workers: the tests change jobs through the queries the workers and the retention use. */
let ctx: TestContext;
const listeners: JobChangeListener[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => {
  await Promise.all(listeners.map((listener) => listener.close()));
  await ctx?.close();
});

const CSV = 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n';

/** A queued import of a new account: its id and the account's. */
async function queuedJob(): Promise<{ accountId: string; jobId: string; key: string }> {
  const account = await ctx.createAccount();
  const response = await ctx.upload(account.key, CSV);
  expect(response.statusCode, response.body).toBe(202);
  return { accountId: account.id, jobId: response.json<{ id: string }>().id, key: account.key };
}

/**
 * A cache on a listener of its own (to `databaseUrl`, probed every `probeMs`), the reads of
 * PostgreSQL its finder makes, and its hit and miss counter.
 */
function cachedFinder(ttlMs: number, read: JobFind = jobFinder(ctx.db), databaseUrl = ctx.config.DATABASE_URL, probeMs?: number) {
  const listener = createJobChangeListener(databaseUrl, ctx.app.log, probeMs);
  listeners.push(listener);
  const counted = { reads: 0 };
  const answers = new Counter({ name: 'job_cache_reads', help: 'hits and misses', labelNames: ['result'], registers: [new Registry()] });
  const cache = createJobCache(listener, ttlMs, answers);
  const find = cache.finder((accountId, id) => {
    counted.reads += 1;
    return read(accountId, id);
  });
  const answered = async () => {
    const { values } = await answers.get();
    return Object.fromEntries(values.map(({ labels, value }) => [labels.result, value]));
  };
  return { listener, cache, find, counted, answered };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once `listener` has been told of the next change of job `jobId` (the cache hears it first). */
async function nextAnnouncement(listener: JobChangeListener, jobId: string): Promise<() => Promise<void>> {
  let heard = false;
  const stop = await listener.subscribe(jobId, () => {
    heard = true;
  });
  return async () => {
    await until(() => heard, `the announcement of job ${jobId}`);
    stop();
  };
}

/** The finder after its first read, once its listener listens: the next read of a job is kept. */
async function listening(ttlMs: number, read?: JobFind, databaseUrl?: string, probeMs?: number) {
  const cached = cachedFinder(ttlMs, read, databaseUrl, probeMs);
  await cached.find('00000000-0000-4000-8000-000000000000', '00000000-0000-4000-8000-000000000000');
  await until(() => cached.listener.isListening(), 'the listener');
  cached.counted.reads = 0;
  return cached;
}

describe('the job cache of an API process', () => {
  it('answers a polled job from one read of PostgreSQL while nothing changes, and only to its account', async () => {
    const { accountId, jobId } = await queuedJob();
    const { find, counted, answered } = await listening(60_000);
    const before = await answered();
    const first = await find(accountId, jobId);
    expect(first).toMatchObject({ id: jobId, account_id: accountId, status: 'processing', phase: 'queued' });
    for (let i = 0; i < 5; i += 1) expect(await find(accountId, jobId)).toEqual(first);
    expect(counted.reads).toBe(1);

    const other = await ctx.createAccount();
    expect(await find(other.id, jobId)).toBeNull();
    expect(counted.reads).toBe(1);
    const after = await answered();
    expect({ hit: after.hit! - (before.hit ?? 0), miss: after.miss! - (before.miss ?? 0) }).toEqual({ hit: 6, miss: 1 });
  });

  it('serves a committed change as soon as it is announced, long before the entry would expire', async () => {
    const { accountId, jobId } = await queuedJob();
    const { find, listener, counted } = await listening(60_000);
    expect(await find(accountId, jobId)).toMatchObject({ phase: 'queued', started_at: null });

    const announced = await nextAnnouncement(listener, jobId);
    await startJobAttempt(ctx.db, jobId);
    await announced();
    const changed = await find(accountId, jobId);
    expect(changed).toMatchObject({ phase: 'running', attempts: 1 });
    expect(changed?.started_at).not.toBeNull();
    expect(counted.reads).toBe(2);
  });

  it('hears the retention clear an upload (the rows.csv link) and a removed job', async () => {
    const { accountId, jobId } = await queuedJob();
    await ctx.db.query(`UPDATE jobs SET status = 'failed', finished_at = now() - interval '8 days' WHERE id = $1`, [jobId]);
    const { find, listener } = await listening(60_000);
    const inputPath = (await find(accountId, jobId))?.input_path;
    expect(inputPath).not.toBeNull();

    const cleared = await nextAnnouncement(listener, jobId);
    await clearInputPath(ctx.db, jobId, inputPath!, 7);
    await cleared();
    expect((await find(accountId, jobId))?.input_path).toBeNull();

    const removed = await nextAnnouncement(listener, jobId);
    await deleteJobRow(ctx.db, jobId);
    await removed();
    expect(await find(accountId, jobId)).toBeNull();
  });

  it('does not keep a read during which its job changed', async () => {
    const { accountId, jobId } = await queuedJob();
    let changeDuringRead: JobChangeListener | null = null;
    const readThenChange: JobFind = async (account, id) => {
      const row = await jobFinder(ctx.db)(account, id);
      if (changeDuringRead) {
        const announced = await nextAnnouncement(changeDuringRead, id);
        await startJobAttempt(ctx.db, id);
        await announced();
        changeDuringRead = null;
      }
      return row;
    };
    const { find, listener, counted } = await listening(60_000, readThenChange);
    changeDuringRead = listener;

    expect(await find(accountId, jobId)).toMatchObject({ phase: 'queued' });
    expect(await find(accountId, jobId)).toMatchObject({ phase: 'running' });
    expect(counted.reads).toBe(2);
  });

  it('serves nothing from the cache while its listener is lost, and caches again once it is back', async () => {
    const { accountId, jobId } = await queuedJob();
    const { find, listener, counted } = await listening(60_000);
    await find(accountId, jobId);
    await find(accountId, jobId);
    expect(counted.reads).toBe(1);

    // Lose the listener's connection: a change committed now is announced to no one.
    await ctx.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND query = 'LISTEN job_events' AND pid <> pg_backend_pid()`,
    );
    await until(() => !listener.isListening(), 'the listener to notice its lost connection');
    await startJobAttempt(ctx.db, jobId);
    expect(await find(accountId, jobId)).toMatchObject({ phase: 'running' });
    expect(counted.reads).toBe(2);

    await until(() => listener.isListening(), 'the listener to reconnect');
    await find(accountId, jobId);
    await find(accountId, jobId);
    expect(counted.reads).toBe(3);
  });

  it('gives up a listening connection that went silent, reads PostgreSQL meanwhile, and listens again', async () => {
    const { accountId, jobId } = await queuedJob();
    const database = new URL(ctx.config.DATABASE_URL);
    const proxy = await startTcpProxy(Number(database.port || 5432));
    try {
      database.host = new URL(proxy.url).host;
      const { find, listener, counted } = await listening(60_000, undefined, database.toString(), 200);
      await find(accountId, jobId);
      await find(accountId, jobId);
      expect(counted.reads).toBe(1);

      // The network drops the listener's packets without a word: the change's announcement is lost.
      proxy.setSilent(true);
      await startJobAttempt(ctx.db, jobId);
      await until(() => !listener.isListening(), 'the probe to give the silent connection up', 3_000);
      expect(await find(accountId, jobId)).toMatchObject({ phase: 'running' });

      proxy.setSilent(false);
      await until(() => listener.isListening(), 'the listener to connect again', 5_000);
      await find(accountId, jobId);
      await find(accountId, jobId);
      expect(counted.reads).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it('reads again once an entry expired, and caches nothing with a TTL of 0 (no listener either)', async () => {
    const { accountId, jobId } = await queuedJob();
    const short = await listening(50);
    await short.find(accountId, jobId);
    await short.find(accountId, jobId);
    expect(short.counted.reads).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await short.find(accountId, jobId);
    expect(short.counted.reads).toBe(2);

    const off = cachedFinder(0);
    for (let i = 0; i < 3; i += 1) expect(await off.find(accountId, jobId)).toMatchObject({ id: jobId });
    expect(off.counted.reads).toBe(3);
    expect(off.listener.isListening()).toBe(false);
  });
});

/** Waits until a session of the test database listens for job changes: the API process's, once the tests' own are closed. */
async function untilApiListens(): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { rows } = await ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN job_events'`,
    );
    if (rows[0]!.n > 0) return;
    if (Date.now() > deadline) throw new Error('the API process did not start listening');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** This process's count of polls answered with `result` (hit or miss), from GET /metrics. */
async function cacheReads(result: 'hit' | 'miss'): Promise<number> {
  const text = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((each) => each.startsWith(`catalog_job_cache_reads_total{result="${result}"}`));
  return Number(line?.split(' ').pop());
}

describe('the job change listener', () => {
  // An event stream that ends itself unsubscribes twice (its own end, then its body's close): the
  // second call came after the job's next stream had subscribed and took that stream's
  // subscription away, so it heard no more changes.
  it("keeps a new subscriber's notifications when an earlier subscriber of the job unsubscribes twice", async () => {
    const { jobId } = await queuedJob();
    const listener = createJobChangeListener(ctx.config.DATABASE_URL, ctx.app.log);
    listeners.push(listener);
    const stopFirst = await listener.subscribe(jobId, () => {});
    stopFirst();
    let heard = 0;
    await listener.subscribe(jobId, () => (heard += 1));
    stopFirst();
    await startJobAttempt(ctx.db, jobId);
    await expect.poll(() => heard, { timeout: 5_000 }).toBeGreaterThan(0);
  });
});

describe('GET /v1/jobs/{id} with the cache', () => {
  it('shows a cancel made through the API at once, however often the job was polled before', async () => {
    await Promise.all(listeners.splice(0).map((listener) => listener.close()));
    const { jobId, key } = await queuedJob();
    expect((await ctx.get(key, `/v1/jobs/${jobId}`)).statusCode).toBe(200);
    // The API process listens from its first polled job on; from then on it keeps them.
    await untilApiListens();
    for (let i = 0; i < 3; i += 1) expect((await ctx.get(key, `/v1/jobs/${jobId}`)).json()).toMatchObject({ status: 'processing' });
    const cancel = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: { 'x-api-key': key } });
    expect(cancel.statusCode, cancel.body).toBe(200);
    const polled = await ctx.get(key, `/v1/jobs/${jobId}`);
    expect(polled.json()).toMatchObject({ id: jobId, status: 'cancelled', error_code: 'JOB_CANCELLED' });
  });

  it('counts the polls answered from the cache and from PostgreSQL in /metrics', async () => {
    const { jobId, key } = await queuedJob();
    expect((await ctx.get(key, `/v1/jobs/${jobId}`)).statusCode).toBe(200);
    await untilApiListens();
    // Read (again) while the process listens: kept from now on.
    expect((await ctx.get(key, `/v1/jobs/${jobId}`)).statusCode).toBe(200);
    const next = await queuedJob();
    const before = { hit: await cacheReads('hit'), miss: await cacheReads('miss') };
    for (let i = 0; i < 3; i += 1) expect((await ctx.get(key, `/v1/jobs/${jobId}`)).statusCode).toBe(200);
    // A job not polled before is read from PostgreSQL.
    expect((await ctx.get(next.key, `/v1/jobs/${next.jobId}`)).statusCode).toBe(200);
    const after = { hit: await cacheReads('hit'), miss: await cacheReads('miss') };
    expect({ hit: after.hit - before.hit, miss: after.miss - before.miss }).toEqual({ hit: 3, miss: 1 });
  });
});
