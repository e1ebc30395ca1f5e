import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/private-redis.js';
import { pause, streamRequest } from '../support/raw-http.js';
import { jobRow, recoveryEan, spawnService, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A process that runs the API and the workers (ROLE=all) stops taking jobs as soon as it gets
// SIGTERM, while the API still answers the requests under way: an open upload must not keep its
// workers taking new work until the upload ends.

let ctx: TestContext;
const children: WorkerChild[] = [];

beforeAll(async () => {
  // The test context's API stands for a second API process on the same PostgreSQL and Redis.
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => {
  for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  await ctx?.close();
});

/** A CSV upload that sends its first rows at once and the rest only once `gate` resolves. */
async function* slowUpload(gate: Promise<void>): AsyncGenerator<string> {
  yield 'ean,name\n4006381333931,Pen\n';
  await gate;
  yield '96385074,Notebook\n';
}

/** Starts the service with both roles (and `env`) joined to the test context; resolves once its workers run. */
async function startAll(env: Record<string, string> = {}): Promise<{ child: WorkerChild; url: string }> {
  const port = await freePort();
  const child = spawnService({ ...ctx.env, ROLE: 'all', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  children.push(child);
  await waitFor('the process to start its workers', async () => {
    if (child.process.exitCode !== null) throw new Error(`the process exited: ${child.output()}`);
    return child.output().includes('workers started') ? true : undefined;
  }, 60_000, 100);
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * Opens a slow upload to `url`, sends `signal` once it is under way (its headers and first rows
 * have reached the server) and waits until the process is shutting down; `finishUpload` sends the rest.
 */
async function signalDuringUpload(child: WorkerChild, url: string, key: string, signal: NodeJS.Signals) {
  let finishUpload = () => {};
  const gate = new Promise<void>((resolve) => (finishUpload = resolve));
  const upload = streamRequest(`${url}/v1/imports`, { headers: { 'x-api-key': key, 'content-type': 'text/csv' }, chunks: slowUpload(gate) });
  await pause(500);
  child.process.kill(signal);
  await waitFor('the process to start shutting down', async () => (child.output().includes('shutting down') ? true : undefined), 10_000);
  return { upload, finishUpload };
}

describe('shutdown of a ROLE=all process', () => {
  it('shuts down as gracefully on SIGHUP (its terminal closed) as on SIGTERM, answering an open upload with 202', { timeout: 120_000 }, async () => {
    const account = await ctx.createAccount();
    const { child, url } = await startAll();
    const { upload, finishUpload } = await signalDuringUpload(child, url, account.key, 'SIGHUP');
    finishUpload();
    expect((await upload).status).toBe(202);
    expect(await child.exited).toBe('exit 0');
    expect(child.output()).toContain('shutdown complete');
  });

  it('takes no job queued after SIGTERM while an upload is still open, and answers that upload with 202', { timeout: 120_000 }, async () => {
    const account = await ctx.createAccount();
    const { child, url } = await startAll();
    const { upload, finishUpload } = await signalDuringUpload(child, url, account.key, 'SIGTERM');

    // Other EANs than the upload's: the two imports, run side by side later, do not wait on each other.
    const queued = await ctx.upload(account.key, `ean,name\n${recoveryEan(1)},Lamp\n`);
    expect(queued.statusCode, queued.body).toBe(202);
    const queuedId = queued.json<{ id: string }>().id;
    // A worker still taking jobs would have started this one within milliseconds.
    await pause(3_000);
    expect(await jobRow(ctx.db, queuedId)).toMatchObject({ phase: 'queued', attempts: 0, started_at: null });

    finishUpload();
    const answer = await upload;
    expect(answer.status, answer.body).toBe(202);
    const uploadedId = (JSON.parse(answer.body) as { id: string }).id;
    expect(await child.exited).toBe('exit 0');
    expect(child.output()).toContain('shutdown complete');
    expect(await jobRow(ctx.db, uploadedId)).toMatchObject({ phase: 'queued', attempts: 0, started_at: null });

    // Another process's workers run both.
    ctx.startWorkers();
    for (const id of [queuedId, uploadedId]) {
      expect(await ctx.waitForJob(account.key, id, 30_000)).toMatchObject({ status: 'completed' });
      expect((await jobRow(ctx.db, id)).attempts).toBe(1);
    }
  });

  it('closes a request still open SHUTDOWN_HTTP_GRACE_MS after SIGTERM, and exits', { timeout: 120_000 }, async () => {
    const account = await ctx.createAccount();
    const { child, url } = await startAll({ SHUTDOWN_HTTP_GRACE_MS: '1000' });
    let finishUpload = () => {};
    const upload = streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': account.key, 'content-type': 'text/csv' },
      chunks: slowUpload(new Promise<void>((resolve) => (finishUpload = resolve))),
    });
    await pause(500);
    const signalled = Date.now();
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe('exit 0');
    expect(Date.now() - signalled).toBeLessThan(10_000);
    // The client finds its connection closed, with no answer.
    finishUpload();
    expect((await upload).status).toBeNull();
    expect(child.output()).toContain('closing their connections');
    const { rows } = await ctx.db.query('SELECT id FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);
  });
});
