import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, importHeldHalfWay, jobRow, spawnWorker, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { freePort } from '../support/private-redis.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** The API in this process; the jobs run in a ROLE=worker child process with its own listener. */
let ctx: TestContext;
let worker: WorkerChild;
let workerUrl: string;
const TOKEN = 'worker-process-metrics';
const NICE = 7;

/** The nice value of each thread of process `pid` (Linux: field 19 of /proc/<pid>/task/<tid>/stat). */
async function threadNiceValues(pid: number): Promise<number[]> {
  const threads = await readdir(`/proc/${pid}/task`);
  const values = await Promise.all(
    threads.map(async (thread) => {
      const stat = await readFile(`/proc/${pid}/task/${thread}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    }),
  );
  return values;
}

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { METRICS_TOKEN: TOKEN } });
  const port = await freePort();
  workerUrl = `http://127.0.0.1:${port}`;
  worker = spawnWorker({ ...ctx.env, WORKER_PORT: String(port), HOST: '127.0.0.1', WORKER_NICE: String(NICE) });
  await waitFor('the worker process to be ready', async () => {
    if (worker.process.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
    const response = await fetch(`${workerUrl}/readyz`).catch(() => null);
    return response?.status === 200 ? true : undefined;
  }, 60_000, 200);
}, 90_000);
afterAll(async () => {
  if (worker && worker.process.exitCode === null) {
    worker.process.kill('SIGTERM');
    await worker.exited;
  }
  await ctx?.close();
});

const scrape = async () => {
  const response = await fetch(`${workerUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  return response.text();
};

describe('a ROLE=worker process with WORKER_PORT', () => {
  it('runs every thread at WORKER_NICE, so an API process on the same machine gets the CPU first', async () => {
    const values = await threadNiceValues(worker.process.pid!);
    // The main thread, V8's helper threads and the libuv pool that serves file reads.
    expect(values.length).toBeGreaterThan(4);
    expect(new Set(values)).toEqual(new Set([NICE]));
    expect(await threadNiceValues(process.pid)).not.toContain(NICE);
  });

  it('serves /readyz with its blocking connection, and /metrics with its job counters', async () => {
    const ready = await fetch(`${workerUrl}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', workers: 'ok' } });
    expect((await fetch(`${workerUrl}/metrics`)).status).toBe(401);

    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\n96385074,Notebook\n');
    expect(job.status).toBe('completed');
    const text = await waitFor('the job to be counted', async () => {
      const each = await scrape();
      return each.includes('catalog_jobs_completed_total{type="import"} 1') ? each : undefined;
    }, 10_000);
    expect(text).toContain('catalog_rows_imported_total 2');
  });

  it('aborts a running import when the API, in another process, cancels it', async () => {
    const account = await ctx.createAccount();
    // Released after the cancel, the import goes on to its next chunk and stops there.
    const id = await importHeldHalfWay(ctx, account, 300_000, async (id) => {
      const cancel = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
      expect(cancel.statusCode, cancel.body).toBe(200);
    });
    const failed = await waitFor('the worker process to stop the delivery', async () => {
      // Read the job once its state is failed: a copy read before could lack the failed reason.
      const queue = ctx.queues.queue('import');
      return (await queue.getJobState(id)) === 'failed' ? await queue.getJob(id) : undefined;
    }, 15_000);
    expect(failed.failedReason).toBe('The job was cancelled.');
    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED' });
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(0);
  }, 90_000);
});
