import { rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productsCsv } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The local file store failing under an upload (a full disk, a read-only or missing folder; here
 * the uploads folder replaced by a file): the client gets the 503 of storage that is unavailable,
 * as with object storage, and the connection is closed rather than held for the unread body.
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
