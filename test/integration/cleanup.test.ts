import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { createReportTable, reportTableFor } from '../../src/workers/import/report-table.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { UPLOAD_RETENTION_DAYS: '7' } });
});
afterAll(async () => ctx?.close());

/** Uploads a file without running it: the job stays `processing` with its upload stored. */
async function queuedJob(key: string): Promise<{ id: string; inputPath: string }> {
  const response = await ctx.upload(key, 'ean,name\n4006381333931,Pen\n');
  const id = response.json<{ id: string }>().id;
  const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [id]);
  return { id, inputPath: rows[0]!.input_path };
}

async function reportTables(): Promise<string[]> {
  const { rows } = await ctx.db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'import_staging' ORDER BY tablename`,
  );
  return rows.map((row) => row.tablename);
}

const cleanup = () => cleanupOnce({ db: ctx.db, uploads: ctx.uploads, uploadRetentionDays: 7 });

describe('periodic cleanup', () => {
  it('drops report tables left by crashed attempts once their job has ended, not while it runs', async () => {
    const { key } = await ctx.createAccount();
    const running = await queuedJob(key);
    const ended = await queuedJob(key);
    await ctx.db.query(`UPDATE jobs SET status = 'failed', finished_at = now() WHERE id = $1`, [ended.id]);
    const runningTable = reportTableFor(running.id);
    await createReportTable(ctx.db, runningTable);
    await createReportTable(ctx.db, reportTableFor(ended.id));

    const result = await cleanup();

    expect(result.stagingTablesDropped).toBe(1);
    expect(await reportTables()).toEqual([runningTable.split('.')[1]]);
  });

  it('removes uploads of jobs that ended longer ago than the retention, and only those', async () => {
    const { key } = await ctx.createAccount();
    const old = await queuedJob(key);
    const recent = await queuedJob(key);
    const active = await queuedJob(key);
    await ctx.db.query(`UPDATE jobs SET status = 'completed', finished_at = now() - interval '8 days' WHERE id = $1`, [old.id]);
    await ctx.db.query(`UPDATE jobs SET status = 'completed', finished_at = now() - interval '6 days' WHERE id = $1`, [recent.id]);

    const result = await cleanup();

    expect(result.uploadsRemoved).toBe(1);
    expect(existsSync(ctx.uploads.absolute(old.inputPath))).toBe(false);
    expect(existsSync(ctx.uploads.absolute(recent.inputPath))).toBe(true);
    expect(existsSync(ctx.uploads.absolute(active.inputPath))).toBe(true);
    const { rows } = await ctx.db.query('SELECT input_path FROM jobs WHERE id = $1', [old.id]);
    expect(rows[0]).toEqual({ input_path: null });
  });
});
