import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { compileCli, startProcess, type CompiledCli } from '../support/cli-runner.js';
import { ean13, toCsv } from '../support/csv.js';
import { baseUrlOf } from '../support/event-stream.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// What the CLI does while it follows a job the service accepted: the job goes on without it, so
// every way of stopping early names the job, and a stream gone silent is noticed.

let ctx: TestContext;
let url: string;
let folder: string;
let compiled: CompiledCli;

beforeAll(async () => {
  // A heartbeat a second, so that a CLI with a short idle limit hears one on a healthy stream.
  [ctx, compiled] = await Promise.all([createTestContext({ env: { JOB_EVENTS_HEARTBEAT_SECONDS: '1' } }), compileCli()]);
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  url = baseUrlOf(ctx.app.server.address());
  folder = await mkdtemp(join(tmpdir(), 'catalog-cli-following-'));
});
afterAll(async () => {
  await Promise.all([ctx?.close(), compiled?.remove()]);
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** A CSV file of `count` valid products in the test folder. */
async function productsFile(name: string, first: number, count: number): Promise<string> {
  const rows = Array.from({ length: count }, (_, index) => [ean13(first + index), `Product ${first + index}`, '1.50', 'EUR']);
  const path = join(folder, name);
  await writeFile(path, toCsv([['ean', 'name', 'price', 'currency'], ...rows]));
  return path;
}

/** A second key of the account `key` belongs to, with only `scopes`. */
async function keyWithScopes(key: string, scopes: string[]): Promise<string> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': key }, payload: { name: 'narrow', scopes } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ key: string }>().key;
}

/** The jobs of the account of `key`. */
async function jobsOf(key: string): Promise<JobResource[]> {
  return (await ctx.get(key, '/v1/jobs')).json<{ data: JobResource[] }>().data;
}

/** Runs `work` with the import queue paused, so that an accepted import stays processing meanwhile. */
async function withImportsPaused<T>(work: () => Promise<T>): Promise<T> {
  const imports = ctx.queues.queue('import');
  await imports.pause();
  try {
    return await work();
  } finally {
    await imports.resume();
  }
}

const JOB_ID = /Import accepted: job ([0-9a-f-]{36})/;

describe('catalog import, after the upload was accepted', { timeout: 60_000 }, () => {
  it('names the job and how to check it when the key may upload but not read jobs, also in --json', async () => {
    const account = await ctx.createAccount();
    const uploadOnly = await keyWithScopes(account.key, ['imports:write']);
    const file = await productsFile('no-jobs-read.csv', 1, 2);
    const run = await startProcess(compiled.command, ['--json', 'import', file], { CATALOG_URL: url, CATALOG_API_KEY: uploadOnly }).done;

    expect(run.code, run.stderr).toBe(3);
    const id = JOB_ID.exec(run.stderr)?.[1];
    expect(id, run.stderr).toBeDefined();
    expect(run.stderr).toContain("This key lacks the 'jobs:read' scope.");
    expect(run.stderr).toContain(`Job ${id} was accepted and goes on on the service (do not start it again); check it with: catalog jobs show ${id}`);
    expect(JSON.parse(run.stdout)).toMatchObject({ error_code: 'PERMISSION_DENIED', job_id: id, exit_code: 3 });
    expect(await ctx.waitForJob(account.key, id!)).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
  });

  it.each([
    { signal: 'SIGINT', stopper: 'Ctrl+C', code: 130, error: 'Interrupted.' },
    { signal: 'SIGTERM', stopper: 'a CI timeout (SIGTERM)', code: 143, error: 'Interrupted by SIGTERM.' },
  ] as const)('names the job that goes on when $stopper stops the CLI while it follows the job', async ({ signal, code, error }) => {
    const account = await ctx.createAccount();
    const file = await productsFile(`interrupted-${code}.csv`, 10, 2);
    await withImportsPaused(async () => {
      const cli = startProcess(compiled.command, ['--json', 'import', file], { CATALOG_URL: url, CATALOG_API_KEY: account.key });
      const id = (await cli.stderrMatch(JOB_ID))[1];
      cli.child.kill(signal);
      const run = await cli.done;

      expect(run.code, run.stderr).toBe(code);
      expect(run.stderr).toContain(`catalog: ${error}`);
      expect(run.stderr).toContain(`Job ${id} was accepted and goes on on the service (do not start it again); check it with: catalog jobs show ${id}`);
      expect(JSON.parse(run.stdout)).toMatchObject({ error, job_id: id, exit_code: code });
    });
    expect(await jobsOf(account.key)).toHaveLength(1);
  });

  it('names the job that goes on when the service cannot be reached while the CLI follows it', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('unreachable.csv', 20, 2);
    const proxy = await startTcpProxy(Number(new URL(url).port));
    try {
      await withImportsPaused(async () => {
        const env = { CATALOG_URL: proxy.url, CATALOG_API_KEY: account.key, CATALOG_RETRIES: '2' };
        const cli = startProcess(compiled.command, ['import', file], env);
        const id = (await cli.stderrMatch(JOB_ID))[1];
        proxy.setDown(true);
        const run = await cli.done;

        expect(run.code, run.stderr).toBe(5);
        expect(run.stderr).toMatch(/Could not reach http:\/\/127\.0\.0\.1:\d+/);
        expect(run.stderr).toContain(`Job ${id} was accepted and goes on on the service (do not start it again); check it with: catalog jobs show ${id}`);
      });
    } finally {
      await proxy.close();
    }
    expect(await jobsOf(account.key)).toHaveLength(1);
  });

  it('names the export job when the key may start exports but not read jobs', async () => {
    const account = await ctx.createAccount();
    const exportOnly = await keyWithScopes(account.key, ['exports:write']);
    const output = join(folder, 'export.csv');
    const run = await startProcess(compiled.command, ['export', '-o', output], { CATALOG_URL: url, CATALOG_API_KEY: exportOnly }).done;

    expect(run.code, run.stderr).toBe(3);
    const id = /Export accepted: job ([0-9a-f-]{36})/.exec(run.stderr)?.[1];
    expect(id, run.stderr).toBeDefined();
    expect(run.stderr).toContain(`check it with: catalog jobs show ${id}`);
  });
});

describe('catalog import, on an event stream gone silent', { timeout: 60_000 }, () => {
  it('reconnects with Last-Event-ID when the stream is silent, heartbeats included, for CATALOG_EVENTS_IDLE_MS', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('silent-stream.csv', 30, 2);
    const proxy = await startTcpProxy(Number(new URL(url).port));
    try {
      const env = { CATALOG_URL: proxy.url, CATALOG_API_KEY: account.key, CATALOG_EVENTS_IDLE_MS: '3000' };
      const cli = await withImportsPaused(async () => {
        const started = startProcess(compiled.command, ['import', file], env);
        // The first event has come: from its next bytes on (a heartbeat at the latest), the
        // connection stays open but silent, as one whose peer left without FIN or RST.
        await started.stderrMatch(/^import: /m);
        proxy.cutNextResponseAfter(0, { stall: true });
        return started;
      });
      // Without the watchdog the CLI waits for minutes: give up on it well before.
      const timeout = setTimeout(() => cli.child.kill('SIGKILL'), 20_000);
      const run = await cli.done.finally(() => clearTimeout(timeout));

      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^Import completed in [\d.]+ s: 2 created/m);
      const streams = proxy.requests.filter((request) => /^GET \/v1\/jobs\/[\w-]+\/events /.test(request));
      expect(streams.length).toBeGreaterThanOrEqual(2);
      expect(streams[1]).toMatch(/^last-event-id: \S+/im);
    } finally {
      await proxy.close();
    }
  });
});

describe('catalog import, when its key is revoked while it follows the job', { timeout: 60_000 }, () => {
  it("stops at the stream's error event with the service's message, names the job, and does not reconnect", async () => {
    const account = await ctx.createAccount();
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': account.key }, payload: { name: 'leaked' } });
    const leaked = created.json<{ id: string; key: string }>();
    const file = await productsFile('revoked-key.csv', 40, 2);
    const proxy = await startTcpProxy(Number(new URL(url).port));
    try {
      const { run, id } = await withImportsPaused(async () => {
        const cli = startProcess(compiled.command, ['import', file], { CATALOG_URL: proxy.url, CATALOG_API_KEY: leaked.key });
        const jobId = (await cli.stderrMatch(JOB_ID))[1];
        await cli.stderrMatch(/^import: /m);
        const revoked = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${leaked.id}`, headers: { 'x-api-key': account.key } });
        expect(revoked.statusCode).toBe(204);
        return { run: await cli.done, id: jobId };
      });

      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toContain('Invalid API key.');
      expect(run.stderr).toContain(`Job ${id} was accepted and goes on on the service (do not start it again); check it with: catalog jobs show ${id}`);
      expect(proxy.requests.filter((request) => /^GET \/v1\/jobs\/[\w-]+\/events /.test(request))).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});

describe('catalog jobs retry', { timeout: 60_000 }, () => {
  it('retries with a key that may write imports but not read jobs, as the retry route asks', async () => {
    const account = await ctx.createAccount();
    const failed = await ctx.importCsv(account.key, 'ean,name\n12345,Bad\n');
    expect(failed.status).toBe('failed');
    const writeOnly = await keyWithScopes(account.key, ['imports:write']);
    const run = await startProcess(compiled.command, ['jobs', 'retry', failed.id, '--no-wait'], { CATALOG_URL: url, CATALOG_API_KEY: writeOnly }).done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Retry accepted: job ${failed.id}`);
    // The job ran again: it failed once more, at a later time.
    const rerun = await ctx.waitForJob(account.key, failed.id);
    expect(rerun.status).toBe('failed');
    expect(Date.parse(rerun.finished_at!)).toBeGreaterThan(Date.parse(failed.finished_at!));
  });
});
