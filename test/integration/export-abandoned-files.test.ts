import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { createLogger } from '../../src/shared/logger.js';
import type { FileStore } from '../../src/shared/storage/file-store.js';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { runExport } from '../../src/workers/export/run-export.js';
import { ean13 } from '../support/csv.js';
import { csvRecords, downloadResult, requestExport, seedProducts } from '../support/exports.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// An export attempt whose process dies once its file is complete, before it records the file:
// the job's next delivery writes a file of its own and completes; the periodic cleanup removes
// the one the dead attempt left, on both stores, and never the job's result.

const logger = createLogger('silent');
const HOUR = 3_600_000;

/**
 * What an attempt killed (kill -9) right after its file became complete sees: the store writes,
 * then nothing more happens in that process: no statement, no removal.
 */
function killedOnceFileComplete(ctx: TestContext) {
  let writtenPath: string | null = null;
  let killed = false;
  const files: FileStore = {
    kind: ctx.store.kind,
    save: (...args) => ctx.store.save(...args),
    open: (path) => ctx.store.open(path),
    openRead: (path, options) => ctx.store.openRead(path, options),
    head: (path, bytes) => ctx.store.head(path, bytes),
    size: (path) => ctx.store.size(path),
    remove: () => new Promise(() => {}),
    createWriter: (path) => {
      const writer = ctx.store.createWriter(path);
      return {
        stream: writer.stream,
        finish: async () => {
          const size = await writer.finish();
          [writtenPath, killed] = [path, true];
          return size;
        },
        abort: () => writer.abort(),
      };
    },
    downloadUrl: (path, options) => ctx.store.downloadUrl(path, options),
    removeIncomplete: (olderThan) => ctx.store.removeIncomplete(olderThan),
  };
  const db = new Proxy(ctx.db, {
    get(target, property) {
      if (killed && (property === 'connect' || property === 'query')) return () => new Promise(() => {});
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as Db;
  return { files, db, writtenPath: () => writtenPath };
}

describe.each(['file', 's3'] as const)('an export attempt killed once its file is complete (%s store)', (storage) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ workers: false, ...(storage === 's3' && { storage: 's3' as const }) });
  });
  afterAll(async () => ctx?.close());

  it('has its file removed by the cleanup a day after the job ended, and the result the next attempt recorded kept', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [
      { ean: ean13(1), name: 'Pen' },
      { ean: ean13(2), name: 'Ink' },
    ]);
    const response = await requestExport(ctx, account.key, { format: 'csv' });
    expect(response.statusCode).toBe(202);
    const jobId = response.json<{ id: string }>().id;

    const killed = killedOnceFileComplete(ctx);
    void runExport({ db: killed.db, files: killed.files, logger }, jobId, new AbortController().signal);
    const abandoned = await waitFor('the killed attempt to complete its file', async () => killed.writtenPath() ?? undefined);
    expect(await ctx.store.size(abandoned)).toBeGreaterThan(0);

    // The redelivery: another attempt writes its own file and completes the job.
    expect(await runExport({ db: ctx.db, files: ctx.store, logger }, jobId, new AbortController().signal)).toMatchObject({
      status: 'completed',
    });
    const { rows } = await ctx.db.query<{ result_path: string }>('SELECT result_path FROM jobs WHERE id = $1', [jobId]);
    const result = rows[0]!.result_path;
    expect(result).not.toBe(abandoned);

    const cleanup = (hoursLater: number) =>
      cleanupOnce({ db: ctx.db, uploads: ctx.store, uploadRetentionDays: 7, now: () => new Date(Date.now() + hoursLater * HOUR) });
    // Within a day of the job's end an attempt may still be stopping: its file stays.
    expect((await cleanup(0)).abandonedExportFilesRemoved).toBe(0);
    expect(await ctx.store.size(abandoned)).toBeGreaterThan(0);

    expect((await cleanup(25)).abandonedExportFilesRemoved).toBe(1);
    expect(await ctx.store.size(abandoned)).toBeNull();
    expect(await ctx.store.size(result)).toBeGreaterThan(0);
    const download = await downloadResult(ctx, account.key, jobId);
    expect(download.response.statusCode).toBe(200);
    expect(csvRecords(download.text).map((record) => record.ean)).toEqual([ean13(1), ean13(2)]);
    expect((await cleanup(25)).abandonedExportFilesRemoved).toBe(0);
  });
});
