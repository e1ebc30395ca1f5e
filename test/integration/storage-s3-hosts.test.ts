import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, toCsv } from '../support/csv.js';
import { csvRecords, downloadResult, runExportJob } from '../support/exports.js';
import { spawnWorker, type WorkerChild } from '../support/recovery-support.js';
import { filesUnder } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Two hosts that share no folder: the API (this process) and a worker process with a data folder
// of its own. On object storage the worker imports what the API received, and the API serves the
// file the worker exported.

let ctx: TestContext;
let worker: WorkerChild;
let workerDataDir: string;

beforeAll(async () => {
  ctx = await createTestContext({ storage: 's3', workers: false });
  workerDataDir = await mkdtemp(join(tmpdir(), 'catalog-worker-host-'));
  worker = spawnWorker({ ...ctx.env, DATA_DIR: workerDataDir });
});
afterAll(async () => {
  worker?.process.kill('SIGKILL');
  await worker?.exited;
  await ctx?.close();
  await rm(workerDataDir, { recursive: true, force: true });
});

describe('API and workers on different hosts, sharing only the bucket', () => {
  it('imports an upload received by the API and serves the export written by the worker', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const rows = [{ ean: ean13(1), name: 'Pen' }, { ean: ean13(2), name: 'Ink' }];
    const upload = await ctx.upload(account.key, toCsv([['ean', 'name'], ...rows.map((row) => [row.ean, row.name])]));
    expect(upload.statusCode).toBe(202);
    const imported = await ctx.waitForJob(account.key, upload.json<{ id: string }>().id, 45_000);
    expect(imported, worker.output()).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });

    const exported = await runExportJob(ctx, account.key, { format: 'csv', fields: ['ean', 'name'] });
    expect(exported.status).toBe('completed');
    const { response, text } = await downloadResult(ctx, account.key, exported.id);
    expect(response.statusCode).toBe(200);
    expect(csvRecords(text)).toEqual(rows);
    expect([...(await filesUnder(ctx.config.DATA_DIR)), ...(await filesUnder(workerDataDir))]).toEqual([]);
  });
});
