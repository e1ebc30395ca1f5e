import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { resetJobForRetry } from '../../src/shared/jobs/job-control-queries.js';
import { withInlineUploads } from '../../src/shared/storage/inline-uploads.js';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { createReportTable, reportTableFor } from '../../src/workers/import/report-table.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { UPLOAD_RETENTION_DAYS: '7' } });
});
afterAll(async () => ctx?.close());

/** Uploads a file without running it: the job stays `processing` with its upload stored. */
async function queuedJob(key: string, csv = 'ean,name\n4006381333931,Pen\n'): Promise<{ id: string; inputPath: string }> {
  const response = await ctx.upload(key, csv);
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
/** Whether the upload at `path` is still stored, in PostgreSQL (a small one) or in the data folder. */
const stored = async (path: string) => (await withInlineUploads(ctx.db, ctx.uploads).size(path)) !== null;

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
    // Over 64 KiB: a file in the data folder, where a small upload is kept in PostgreSQL.
    const oldLarge = await queuedJob(key, `ean,name\n${'4006381333931,Pen\n'.repeat(5_000)}`);
    const recent = await queuedJob(key);
    const active = await queuedJob(key);
    expect(existsSync(ctx.uploads.absolute(oldLarge.inputPath))).toBe(true);
    expect(old.inputPath).toBe(`inline/${old.id}`);
    await ctx.db.query(`UPDATE jobs SET status = 'completed', finished_at = now() - interval '8 days' WHERE id = ANY($1)`, [[old.id, oldLarge.id]]);
    await ctx.db.query(`UPDATE jobs SET status = 'completed', finished_at = now() - interval '6 days' WHERE id = $1`, [recent.id]);

    const result = await cleanup();

    expect(result.uploadsRemoved).toBe(2);
    expect(await stored(old.inputPath)).toBe(false);
    expect(existsSync(ctx.uploads.absolute(oldLarge.inputPath))).toBe(false);
    expect(await stored(recent.inputPath)).toBe(true);
    expect(await stored(active.inputPath)).toBe(true);
    const { rows } = await ctx.db.query('SELECT id, input_path FROM jobs WHERE id = ANY($1) ORDER BY id', [[old.id, oldLarge.id]]);
    expect(rows).toEqual([old.id, oldLarge.id].sort().map((id) => ({ id, input_path: null })));
  });

  /** An enrichment of the account (not run: no workers here) with a checkpoint and the product it took. */
  const enrichment = async (key: string) => {
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': key }, payload: {} });
    const { id } = response.json<{ id: string }>();
    await ctx.db.query(`INSERT INTO enrichment_checkpoints (job_id, rows_total, targets_taken) VALUES ($1, 1, true)`, [id]);
    await ctx.db.query(`INSERT INTO enrichment_targets (job_id, first_ordinal, eans) VALUES ($1, 1, ARRAY['4006381333931'])`, [id]);
    return id;
  };

  it('removes the checkpoints of enrichments that ended longer ago than the retention, with the products they took', async () => {
    const { key } = await ctx.createAccount();
    const [old, recent, running] = [await enrichment(key), await enrichment(key), await enrichment(key)];
    await ctx.db.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() - interval '8 days' WHERE id = $1`, [old]);
    await ctx.db.query(`UPDATE jobs SET status = 'failed', finished_at = now() - interval '6 days' WHERE id = $1`, [recent]);

    const result = await cleanup();

    expect(result.enrichmentCheckpointsRemoved).toBe(1);
    const kept = async (table: string) =>
      (await ctx.db.query(`SELECT job_id FROM ${table} WHERE job_id = ANY($1) ORDER BY job_id`, [[old, recent, running]])).rows;
    expect(await kept('enrichment_checkpoints')).toEqual([recent, running].sort().map((job_id) => ({ job_id })));
    expect(await kept('enrichment_targets')).toEqual([recent, running].sort().map((job_id) => ({ job_id })));
  });

  it('keeps the checkpoint of an old enrichment that a retry puts back to processing while the pass runs', async () => {
    const { key } = await ctx.createAccount();
    const id = await enrichment(key);
    await ctx.db.query(`UPDATE enrichment_checkpoints SET position = 1, rows_changed = 1 WHERE job_id = $1`, [id]);
    await ctx.db.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() - interval '8 days' WHERE id = $1`, [id]);
    // The retry's transaction has done its work and waits to commit while the pass runs.
    let commit = () => {};
    const committing = new Promise<void>((resolve) => (commit = resolve));
    let reachedCommit = false;
    const held = {
      connect: async () => {
        const client = await ctx.db.connect();
        const query = client.query.bind(client) as (sql: string) => Promise<unknown>;
        Object.assign(client, {
          query: async (sql: string, ...rest: unknown[]) => {
            if (sql === 'COMMIT') {
              reachedCommit = true;
              await committing;
            }
            return (query as (...args: unknown[]) => Promise<unknown>)(sql, ...rest);
          },
        });
        return client;
      },
    } as unknown as Db;
    const retry = resetJobForRetry(held, id);
    await waitFor('the retry to reach its commit', async () => (reachedCommit ? true : undefined));
    let passEnded = false;
    const pass = cleanup().finally(() => (passEnded = true));
    const lockWaits = async () =>
      (await ctx.db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rowCount;
    await waitFor('the pass to end or wait for the retry', async () => (passEnded || (await lockWaits()) ? true : undefined));
    commit();

    expect(await retry).toMatchObject({ status: 'processing', rows_processed: 1 });
    expect((await pass).enrichmentCheckpointsRemoved).toBe(0);
    const { rows } = await ctx.db.query(`SELECT position FROM enrichment_checkpoints WHERE job_id = $1`, [id]);
    expect(rows).toEqual([{ position: 1 }]);
    expect((await ctx.db.query(`SELECT 1 FROM enrichment_targets WHERE job_id = $1`, [id])).rowCount).toBe(1);
  });
});
