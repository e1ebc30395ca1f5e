import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { apiSessionLimits, createPool } from '../../src/shared/db/pool.js';
import { spawnApi, type ApiChild } from '../support/api-process.js';
import { untilQueueReady } from '../support/csv.js';
import { jobRow, productsCsv, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// PostgreSQL time limits: the API's statements time out, the workers' import transactions do not.

let ctx: TestContext;
let api: ApiChild;
const STATEMENT_TIMEOUT_MS = 300;

beforeAll(async () => {
  ctx = await createTestContext({ env: { API_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) } });
  await untilQueueReady(ctx);
  // The API process as src/main.ts builds it, with the same settings.
  api = await spawnApi(ctx.env, 128);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await ctx?.close();
});

/** Holds an ACCESS EXCLUSIVE lock on `table` in an open transaction until `release()`. */
async function lockTable(table: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: ctx.config.DATABASE_URL });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    async release() {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

describe('the API statement timeout', () => {
  it('answers a job list held up by a lock with 503 instead of waiting, in the API process', async () => {
    const account = await ctx.createAccount();
    const lock = await lockTable('jobs');
    try {
      const response = await fetch(`${api.url}/v1/jobs`, { headers: { 'x-api-key': account.key } });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', retry_after_seconds: 5 });
    } finally {
      await lock.release();
    }
    const after = await fetch(`${api.url}/v1/jobs`, { headers: { 'x-api-key': account.key } });
    expect(after.status).toBe(200);
  });

  it('does not cut an import that waits on a lock for longer than it', async () => {
    const account = await ctx.createAccount();
    const lock = await lockTable('products');
    let released = false;
    try {
      const response = await ctx.upload(account.key, productsCsv(1, 3_000, 'Locked out'));
      expect(response.statusCode).toBe(202);
      const id = response.json<{ id: string }>().id;
      await waitFor('the import to be running', async () => ((await jobRow(ctx.db, id)).phase === 'running' ? true : undefined), 20_000);
      // The import's statements now wait on the lock, several times the API's statement timeout.
      await new Promise((resolve) => setTimeout(resolve, STATEMENT_TIMEOUT_MS * 5));
      await lock.release();
      released = true;
      const job = await ctx.waitForJob(account.key, id);
      expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 3_000 } });
    } finally {
      if (!released) await lock.release();
    }
  });
});

describe('the PostgreSQL connect timeout', () => {
  it('fails a query when the server never answers the connection, instead of hanging', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const db = createPool(`postgres://postgres@127.0.0.1:${port}/catalog`, 1, apiSessionLimits(loadConfig({ DB_CONNECT_TIMEOUT_MS: '300' })));
    try {
      await expect(db.query('SELECT 1')).rejects.toThrow(/connection timeout/i);
    } finally {
      await db.end();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
