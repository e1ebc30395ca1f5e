import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productsCsv } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The local file store failing under an upload (a full disk, a read-only or missing folder; here
 * the uploads folder replaced by a file): the client gets the 503 of storage that is unavailable,
 * as with object storage, and the connection is closed rather than held for the unread body. The
 * same when a stored upload cannot be read back for rows.csv.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const jobCount = async () => Number((await ctx.db.query('SELECT count(*) FROM jobs')).rows[0].count);

describe('an upload the file store cannot take', () => {
  it('answers 503 SERVICE_UNAVAILABLE, closes the connection and starts no job; the next upload goes through once the store is back', async () => {
    const account = await ctx.createAccount();
    const uploads = join(ctx.config.DATA_DIR, 'uploads');
    await rm(uploads, { recursive: true, force: true });
    await writeFile(uploads, 'not a folder');
    // Over the 64 KiB kept in PostgreSQL: this one goes to the store.
    const file = productsCsv(1, 5_000, 'Stored');
    try {
      const response = await ctx.upload(account.key, file);
      expect(response.statusCode, response.body).toBe(503);
      expect(response.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', error: 'The file storage is unavailable; try again shortly.' });
      expect(response.headers.connection).toBe('close');
      expect(await jobCount()).toBe(0);
    } finally {
      await rm(uploads, { force: true });
      await mkdir(uploads);
    }
    expect((await ctx.upload(account.key, file)).statusCode).toBe(202);
  });
});

describe('rows.csv of an upload the file store cannot read', () => {
  it('answers 503 SERVICE_UNAVAILABLE while the file cannot be read, and 404 only once it is gone', async () => {
    const account = await ctx.createAccount();
    const accepted = await ctx.upload(account.key, productsCsv(1, 5_000, 'Stored'));
    const id = accepted.json<{ id: string }>().id;
    const { rows } = await ctx.db.query<{ input_path: string }>(
      `UPDATE jobs SET status = 'failed', finished_at = now() WHERE id = $1 RETURNING input_path`,
      [id],
    );
    const file = ctx.uploads.absolute(rows[0]!.input_path);
    // A path the store can open but not read (EISDIR): the file is there, the read fails.
    await rename(file, `${file}.kept`);
    await mkdir(file);
    try {
      const refused = await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`);
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', error: 'The file storage is unavailable; try again shortly.' });
    } finally {
      await rm(file, { recursive: true });
      await rename(`${file}.kept`, file);
    }
    expect((await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`)).statusCode).toBe(200);

    await rm(file);
    const gone = await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json<{ error: string }>().error).toBe('The upload of this import is missing from storage; errors.csv still has the failed rows.');
  });
});
