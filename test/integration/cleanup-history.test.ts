import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import type { FileStore } from '../../src/shared/storage/file-store.js';
import { cleanupOnce, scheduleCleanup } from '../../src/workers/cleanup.js';
import { jobsWithExpiredUploads } from '../../src/workers/cleanup-queries.js';
import { waitFor } from '../support/recovery-support.js';
import { executedStatementNodes, indexesUsed, tablesScanned } from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { UPLOAD_RETENTION_DAYS: '7' } });
});
afterAll(async () => ctx?.close());

/** Uploads a file without running it, then ends its job `daysAgo` days ago; returns the job's id and upload. */
async function endedJob(key: string, daysAgo: number, csv = 'ean,name\n4006381333931,Pen\n'): Promise<{ id: string; inputPath: string }> {
  const id = (await ctx.upload(key, csv)).json<{ id: string }>().id;
  const { rows } = await ctx.db.query<{ input_path: string }>(
    `UPDATE jobs SET status = 'completed', phase = 'done', finished_at = now() - make_interval(days => $2) WHERE id = $1 RETURNING input_path`,
    [id, daysAgo],
  );
  return { id, inputPath: rows[0]!.input_path };
}

/** A pool that answers as `db` does and hands each statement and its rows to `seen`. */
function watched(db: Db, seen: (text: string, rows: unknown[]) => void): Db {
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
      return async (config: string | pg.QueryConfig, values?: unknown[]) => {
        const result = await target.query(config as string, values);
        seen(typeof config === 'string' ? config : config.text, result.rows);
        return result;
      };
    },
  });
}

describe('upload retention on a long history', () => {
  it('takes the expired uploads in batches, past one the store fails to remove, and removes all the others', async () => {
    const { key } = await ctx.createAccount();
    // Over 64 KiB: a file in the data folder, whose removal the store below refuses.
    const refused = await endedJob(key, 9, `ean,name\n${'4006381333931,Pen\n'.repeat(5_000)}`);
    const expired = [await endedJob(key, 10), refused, await endedJob(key, 8), await endedJob(key, 8), await endedJob(key, 30)];
    const kept = await endedJob(key, 6);
    const store: FileStore = Object.create(ctx.uploads) as FileStore;
    store.remove = async (path) => {
      if (path === refused.inputPath) throw new Error('the store refuses');
      return ctx.uploads.remove(path);
    };
    const batches: number[] = [];
    const db = watched(ctx.db, (text, rows) => {
      if (text.startsWith('SELECT id, input_path')) batches.push(rows.length);
    });

    const pass = cleanupOnce({ db, uploads: store, uploadRetentionDays: 7, uploadBatchSize: 2 });

    await expect(pass).rejects.toThrow('1 expired file(s) could not be removed');
    expect(batches).toEqual([2, 2, 1]);
    const { rows } = await ctx.db.query<{ id: string }>('SELECT id FROM jobs WHERE input_path IS NOT NULL AND id = ANY($1) ORDER BY id', [
      [...expired, kept].map((job) => job.id),
    ]);
    expect(rows.map((row) => row.id)).toEqual([refused.id, kept.id].sort());
  });

  it('finds the expired uploads through jobs_upload_finished_idx, with no scan of the jobs', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    // A year of jobs whose uploads the retention already removed, and the last days' that keep theirs.
    await ctx.db.query(
      `INSERT INTO jobs (id, account_id, type, status, phase, created_at, finished_at, input_path)
       SELECT gen_random_uuid(), $1, 'import', 'completed', 'done', now() - i * interval '5 minutes', now() - i * interval '5 minutes',
              CASE WHEN i < 2000 THEN 'inline/' || gen_random_uuid() END
       FROM generate_series(1, 100000) AS i`,
      [accountId],
    );
    await endedJob(key, 8);
    await ctx.db.query('ANALYZE jobs');
    let statement: { text: string; values: unknown[] } | undefined;
    const recorder = { query: async (text: string, values: unknown[]) => ((statement = { text, values }), { rows: [] }) } as unknown as Db;
    for (const after of [undefined, { finishedKey: new Date(Date.now() - 8 * 86_400_000).toISOString(), id: '00000000-0000-4000-8000-000000000000' }]) {
      await jobsWithExpiredUploads(recorder, 7, { limit: 500, after });
      const nodes = await executedStatementNodes(ctx.db, statement!.text, statement!.values);
      expect(tablesScanned(nodes)).toEqual([]);
      expect(indexesUsed(nodes)).toEqual(['jobs_upload_finished_idx']);
    }
  });
});

describe('scheduleCleanup', () => {
  it('starts no second pass in the process while one outlasts the interval', async () => {
    let passesStarted = 0;
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    // Each pass starts by listing the import staging tables: the first one waits there.
    const db = new Proxy(ctx.db, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return async (text: string, values?: unknown[]) => {
          if (typeof text === 'string' && text.includes('import_staging')) {
            passesStarted += 1;
            await released;
          }
          return target.query(text, values);
        };
      },
    });
    const logger = pino({ level: 'silent' });
    const stop = scheduleCleanup({ db, uploads: ctx.uploads, uploadRetentionDays: 7, logger }, 20);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(passesStarted).toBe(1);
      release();
      // Once the pass has ended, the next interval starts the next one.
      await waitFor('the next pass', async () => (passesStarted > 1 ? true : undefined));
    } finally {
      stop();
      release();
    }
  });
});
