import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileStore } from '../../src/shared/storage/file-store.js';
import { cleanupOnce, type CleanupResult } from '../../src/workers/cleanup.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The retention cleanup and a retry of an old failed import at the same moment: the pass removes
// files one after another (on object storage a large pass takes minutes), so a retry can come
// between the pass choosing a job and removing its upload.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { UPLOAD_RETENTION_DAYS: '7' } });
});
afterAll(async () => ctx?.close());

/** Over 64 KiB, so kept in the file store rather than in PostgreSQL; one bad check digit. */
const CSV = `ean,name\n4006381333932,Bad\n${'4006381333931,Pen\n'.repeat(5_000)}`;

/** An import that failed 8 days ago (past the retention) with its upload still stored. */
async function oldFailedImport(key: string): Promise<{ id: string; inputPath: string }> {
  const id = (await ctx.upload(key, CSV)).json<{ id: string }>().id;
  const { rows } = await ctx.db.query<{ input_path: string }>(
    `UPDATE jobs SET status = 'failed', phase = 'done', error_code = 'IMPORT_FAILED', finished_at = now() - interval '8 days'
     WHERE id = $1 RETURNING input_path`,
    [id],
  );
  expect(rows[0]!.input_path.startsWith('inline/')).toBe(false);
  return { id, inputPath: rows[0]!.input_path };
}

/** The store, with each removal held until `release()` (a slow delete on object storage). */
function heldRemovals(store: FileStore) {
  const started: string[] = [];
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const held: FileStore = {
    kind: store.kind,
    save: (...args) => store.save(...args),
    open: (path) => store.open(path),
    openRead: (path, options) => store.openRead(path, options),
    head: (path, bytes) => store.head(path, bytes),
    size: (path) => store.size(path),
    remove: async (path) => {
      started.push(path);
      await released;
      return store.remove(path);
    },
    createWriter: (path) => store.createWriter(path),
    downloadUrl: (path, options) => store.downloadUrl(path, options),
    removeIncomplete: (olderThan) => store.removeIncomplete(olderThan),
  };
  return { store: held, started, release };
}

const retry = (key: string, id: string) => ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/retry`, headers: { 'x-api-key': key } });
const jobRow = async (id: string) =>
  (await ctx.db.query<{ status: string; input_path: string | null }>('SELECT status, input_path FROM jobs WHERE id = $1', [id])).rows[0];

describe('retention cleanup and a retry of an old failed import at once', () => {
  it('refuses the retry with 422 when the pass is removing its upload, rather than accepting a run that cannot read it', async () => {
    const { key } = await ctx.createAccount();
    const job = await oldFailedImport(key);
    const removals = heldRemovals(ctx.uploads);
    const pass = cleanupOnce({ db: ctx.db, uploads: removals.store, uploadRetentionDays: 7 });
    await waitFor('the pass to be removing the upload', async () => (removals.started.includes(job.inputPath) ? true : undefined));

    let answered = false;
    const retried = retry(key, job.id).finally(() => (answered = true));
    const lockWaits = async () =>
      (await ctx.db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rowCount;
    await waitFor('the retry to answer or wait for the pass', async () => (answered || (await lockWaits()) ? true : undefined));
    removals.release();

    const response = await retried;
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      error: "The job's upload is no longer stored; upload the file again.",
    });
    expect(((await pass) as CleanupResult).uploadsRemoved).toBeGreaterThanOrEqual(1);
    expect(await jobRow(job.id)).toEqual({ status: 'failed', input_path: null });
    expect(await ctx.uploads.size(job.inputPath)).toBeNull();
  });

  it('keeps the upload of an old import that a retry puts back to processing after the pass chose it', async () => {
    const { key } = await ctx.createAccount();
    const first = await oldFailedImport(key);
    const retried = await oldFailedImport(key);
    const removals = heldRemovals(ctx.uploads);
    const pass = cleanupOnce({ db: ctx.db, uploads: removals.store, uploadRetentionDays: 7 });
    // The pass has chosen both and is removing one of them; the other is retried meanwhile.
    await waitFor('the pass to be removing an upload', async () => (removals.started.length > 0 ? true : undefined));
    const [held, other] = removals.started[0] === first.inputPath ? [first, retried] : [retried, first];
    expect(removals.started).toEqual([held.inputPath]);

    const response = await retry(key, other.id);
    expect(response.statusCode, response.body).toBe(202);
    removals.release();
    await pass;

    expect(await jobRow(other.id)).toEqual({ status: 'processing', input_path: other.inputPath });
    expect(await ctx.uploads.size(other.inputPath)).toBeGreaterThan(0);
    expect(await jobRow(held.id)).toEqual({ status: 'failed', input_path: null });
  });
});
