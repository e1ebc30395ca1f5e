import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs } from '../support/captured-logs.js';
import { eanNumber, sendJson } from '../support/products.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A product search can run for seconds (a `q` whose every trigram candidate fails the name check).
// One account's searches must not take the API's whole pool of 10 connections, and a search whose
// client has gone must not keep running. Here a search is made slow by a lock on product_search,
// which every search with `q` reads: it waits for the lock in PostgreSQL, holding its connection,
// as a long search would.

/** How long a search may wait for one of its account's places (DB_CONNECT_TIMEOUT_MS). */
const PLACE_WAIT_MS = 2_500;

let ctx: TestContext;
const logs = capturedLogs();

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    // The searches wait for the lock as long as the test holds it, not API_LOCK_TIMEOUT_MS.
    env: { API_LOCK_TIMEOUT_MS: '60000', DB_CONNECT_TIMEOUT_MS: String(PLACE_WAIT_MS) },
    logger: logs.logger,
  });
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => ctx?.close());

/** Holds an ACCESS EXCLUSIVE lock on product_search in an open transaction; `pid` is its session. */
async function lockSearch(): Promise<{ pid: number; release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: ctx.config.DATABASE_URL });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE product_search IN ACCESS EXCLUSIVE MODE');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  let released = false;
  return {
    pid: rows[0]!.pid,
    async release() {
      if (released) return;
      released = true;
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** How many sessions wait for a lock that the session `pid` holds: the searches running. */
async function waitingFor(pid: number): Promise<number> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]);
  return rows[0]!.n;
}

/** `promise`, or 'still waiting' once `ms` have passed without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([promise, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))]);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A GET over a real connection, which `close()` closes before any answer: a client that gave up. */
function abandonableGet(path: string, key: string): { close(): void } {
  const { port } = ctx.app.server.address() as { port: number };
  const outgoing = httpRequest({ host: '127.0.0.1', port, path, headers: { 'x-api-key': key } });
  outgoing.on('response', (response) => response.resume());
  outgoing.on('error', () => {});
  outgoing.end();
  return { close: () => outgoing.destroy() };
}

describe("an account's slow product searches", () => {
  it("hold at most three connections: another account's GET is answered at once, and the searches beyond the wait get 503", async () => {
    const searcher = await ctx.createAccount();
    const other = await ctx.createAccount();
    const ean = eanNumber(1);
    for (const account of [searcher, other]) {
      const created = await sendJson(ctx.app, account.key, 'POST', '/v1/products', { ean, name: 'Pen' });
      expect(created.statusCode, created.body).toBe(201);
    }
    const lock = await lockSearch();
    const settled: Array<{ statusCode: number; headers: Record<string, unknown>; body: string }> = [];
    let searches: Promise<unknown> | undefined;
    try {
      searches = Promise.all(Array.from({ length: 12 }, () => ctx.get(searcher.key, '/v1/products?q=pen').then((response) => settled.push(response))));
      await waitFor('the searches to wait in PostgreSQL', async () => ((await waitingFor(lock.pid)) >= 3 ? true : undefined), 10_000);
      // Time for every search to take what connection it can.
      await pause(300);
      const startedAt = Date.now();
      const read = await within(ctx.get(other.key, `/v1/products/${ean}`), PLACE_WAIT_MS + 2_000);
      const tookMs = Date.now() - startedAt;
      expect(read).not.toBe('still waiting');
      if (read === 'still waiting') return;
      expect(read.statusCode, read.body).toBe(200);
      expect(tookMs).toBeLessThan(1_000);
      // Three of the account's searches hold a connection; the nine others wait without one.
      expect(await waitingFor(lock.pid)).toBe(3);
      // Past the wait for a place, the nine are refused while the three still run.
      await waitFor('the waiting searches to be refused', async () => (settled.length >= 9 ? true : undefined), PLACE_WAIT_MS + 2_000);
      await pause(100);
      expect(settled.map((response) => response.statusCode)).toEqual(Array(9).fill(503));
      expect(await waitingFor(lock.pid)).toBe(3);
    } finally {
      await lock.release();
    }
    await searches;
    expect(settled.slice(9).map((response) => response.statusCode)).toEqual([200, 200, 200]);
    expect(settled[0]!.headers['retry-after']).toBe('5');
    expect(JSON.parse(settled[0]!.body)).toMatchObject({
      error_code: 'SERVICE_UNAVAILABLE',
      error: "Too many of this account's product lists and searches are running on this server; try again shortly.",
      retry_after_seconds: 5,
    });
  });

  it('let the searches that wait run once a place is free', async () => {
    const searcher = await ctx.createAccount();
    const lock = await lockSearch();
    let searches: Promise<Array<{ statusCode: number }>> | undefined;
    try {
      searches = Promise.all(Array.from({ length: 6 }, () => ctx.get(searcher.key, '/v1/products?q=pen')));
      await waitFor('the searches to wait in PostgreSQL', async () => ((await waitingFor(lock.pid)) >= 3 ? true : undefined), 10_000);
      await pause(300);
      expect(await waitingFor(lock.pid)).toBe(3);
    } finally {
      await lock.release();
    }
    expect((await searches).map((response) => response.statusCode)).toEqual(Array(6).fill(200));
  });
});

describe('a product search whose client closed the connection', () => {
  it('is cancelled in PostgreSQL within a second, frees its place, and is not logged as a failure', async () => {
    const searcher = await ctx.createAccount();
    const lock = await lockSearch();
    try {
      logs.clear();
      // Three searches that run and two that wait for a place, all given up by their clients.
      const clients = Array.from({ length: 5 }, () => abandonableGet('/v1/products?q=abandoned', searcher.key));
      await waitFor('the searches to wait in PostgreSQL', async () => ((await waitingFor(lock.pid)) >= 3 ? true : undefined), 10_000);
      await pause(300);
      for (const client of clients) client.close();
      const left = await waitFor('no search left in PostgreSQL', async () => ((await waitingFor(lock.pid)) === 0 ? true : undefined), 1_000).catch(
        () => 'still running',
      );
      expect(left).not.toBe('still running');
      // The places of the searches that were given up are free: the account searches at once.
      await pause(100);
      const again = Promise.all(Array.from({ length: 3 }, () => ctx.get(searcher.key, '/v1/products?q=abandoned')));
      await waitFor('the new searches to run', async () => ((await waitingFor(lock.pid)) === 3 ? true : undefined), 2_000);
      await lock.release();
      expect((await again).map((response) => response.statusCode)).toEqual([200, 200, 200]);
    } finally {
      await lock.release();
    }
    const lines = logs.lines() as Array<{ level: number; msg: string }>;
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    expect(lines.filter((line) => line.msg === 'request ended: the client closed the connection')).toHaveLength(5);
  });
});
