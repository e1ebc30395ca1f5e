import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eanNumber, sendJson } from '../support/products.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// An import is one transaction that holds the row locks of every product it has written until it
// commits. An API write of such a product must not wait for it, holding one of the API's
// connections meanwhile: it is answered 503 after API_LOCK_TIMEOUT_MS, and other accounts' requests
// are served while it waits.

const LOCK_TIMEOUT_MS = 1_500;
const HELD_SENTENCE = 'This product is being written by a running job (such as an import); try again once it has ended.';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { API_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) } });
});
afterAll(async () => ctx?.close());

/** A session of the test database in an open transaction, standing for a running job's. */
async function jobTransaction(): Promise<{ client: PoolClient; pid: number; end(): Promise<void> }> {
  const client = await ctx.db.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  let ended = false;
  return {
    client,
    pid: rows[0]!.pid,
    async end() {
      if (ended) return;
      ended = true;
      await client.query('COMMIT');
      client.release();
    },
  };
}

/** How many sessions wait for a lock that the session `pid` holds. */
async function waitingFor(pid: number): Promise<number> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]);
  return rows[0]!.n;
}

/** `promise`, or 'still waiting' once `ms` have passed without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([promise, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))]);
}

/** Creates products numbered `from`..`from + count - 1` for the account; returns their EANs. */
async function createProducts(key: string, from: number, count: number): Promise<string[]> {
  const eans = Array.from({ length: count }, (_, i) => eanNumber(from + i));
  for (const ean of eans) {
    const response = await sendJson(ctx.app, key, 'POST', '/v1/products', { ean, name: `Product ${ean}` });
    expect(response.statusCode, response.body).toBe(201);
  }
  return eans;
}

describe('API product writes of products a running import has written', () => {
  it('answers PATCH, PUT and DELETE 503 with Retry-After after the lock timeout instead of waiting for the import', async () => {
    const account = await ctx.createAccount();
    const [ean] = await createProducts(account.key, 1, 1);
    const importing = await jobTransaction();
    const pending: Array<Promise<unknown>> = [];
    try {
      // As an import's merge: the row is written and stays locked until the import commits.
      await importing.client.query('UPDATE products SET stock = 1 WHERE account_id = $1 AND ean = $2', [account.id, ean]);
      for (const [method, payload] of [['PATCH', { stock: 5 }], ['PUT', { name: 'Replaced' }], ['DELETE', undefined]] as const) {
        const startedAt = Date.now();
        const request = sendJson(ctx.app, account.key, method, `/v1/products/${ean}`, payload);
        pending.push(request);
        const response = await within(request, LOCK_TIMEOUT_MS + 3_000);
        expect(response, method).not.toBe('still waiting');
        if (response === 'still waiting') return;
        expect(Date.now() - startedAt, method).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS - 100);
        expect(response.statusCode, method).toBe(503);
        expect(response.headers['retry-after'], method).toBe('5');
        expect(response.json(), method).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', error: HELD_SENTENCE, retry_after_seconds: 5 });
      }
    } finally {
      await importing.end();
      await Promise.allSettled(pending);
    }
    // Once the import has committed, the write goes through.
    const after = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { stock: 7 });
    expect(after.statusCode, after.body).toBe(200);
    expect(after.json()).toMatchObject({ stock: 7 });
  });

  it("answers another account's GET promptly while twelve such writes wait", async () => {
    const importer = await ctx.createAccount();
    const other = await ctx.createAccount();
    const eans = await createProducts(importer.key, 100, 12);
    const [otherEan] = await createProducts(other.key, 200, 1);
    const importing = await jobTransaction();
    let writes: Promise<Array<{ statusCode: number }>> | undefined;
    try {
      await importing.client.query('UPDATE products SET stock = 1 WHERE account_id = $1 AND ean = ANY($2::text[])', [importer.id, eans]);
      writes = Promise.all(eans.map((ean) => sendJson(ctx.app, importer.key, 'PATCH', `/v1/products/${ean}`, { stock: 2 })));
      await waitFor('the writes to wait for the import', async () => ((await waitingFor(importing.pid)) >= 3 ? true : undefined), 10_000);
      // Time for every write to take what connection it can.
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Each waiting write holds a connection of the API's pool of 10; the other account needs one.
      const startedAt = Date.now();
      const read = await within(sendJson(ctx.app, other.key, 'GET', `/v1/products/${otherEan}`), 10_000);
      const tookMs = Date.now() - startedAt;
      expect(read).not.toBe('still waiting');
      if (read === 'still waiting') return;
      expect(read.statusCode, read.body).toBe(200);
      expect(tookMs).toBeLessThan(LOCK_TIMEOUT_MS / 2);
      // At most a few of the account's writes hold a connection (and wait in PostgreSQL) at once.
      expect(await waitingFor(importing.pid)).toBeLessThanOrEqual(3);
      const answered = await within(writes, LOCK_TIMEOUT_MS * 3);
      expect(answered).not.toBe('still waiting');
      if (answered === 'still waiting') return;
      expect(answered.map((response) => response.statusCode)).toEqual(eans.map(() => 503));
    } finally {
      await importing.end();
      await writes?.catch(() => {});
    }
  });
});

describe('API writes that wait for a job\'s short final transaction', () => {
  it('cancels a job whose row a final transaction holds for longer than the lock timeout, not 503', async () => {
    const account = await ctx.createAccount();
    const upload = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n');
    expect(upload.statusCode, upload.body).toBe(202);
    const id = upload.json<{ id: string }>().id;
    const finishing = await jobTransaction();
    try {
      await finishing.client.query('SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE', [id]);
      const cancelling = sendJson(ctx.app, account.key, 'POST', `/v1/jobs/${id}/cancel`);
      await waitFor('the cancel to wait for the job row', async () => ((await waitingFor(finishing.pid)) > 0 ? true : undefined), 10_000);
      await new Promise((resolve) => setTimeout(resolve, LOCK_TIMEOUT_MS + 500));
      await finishing.end();
      const cancelled = await cancelling;
      expect(cancelled.statusCode, cancelled.body).toBe(200);
      expect(cancelled.json()).toMatchObject({ status: 'cancelled' });

      // A retry waits for such a transaction in the same way.
      const retryHolder = await jobTransaction();
      try {
        await retryHolder.client.query('SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE', [id]);
        const retrying = sendJson(ctx.app, account.key, 'POST', `/v1/jobs/${id}/retry`);
        await waitFor('the retry to wait for the job row', async () => ((await waitingFor(retryHolder.pid)) > 0 ? true : undefined), 10_000);
        await new Promise((resolve) => setTimeout(resolve, LOCK_TIMEOUT_MS + 500));
        await retryHolder.end();
        const retried = await retrying;
        expect(retried.statusCode, retried.body).toBe(202);
      } finally {
        await retryHolder.end();
      }
    } finally {
      await finishing.end();
    }
  });
});
