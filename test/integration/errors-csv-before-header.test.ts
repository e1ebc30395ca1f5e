import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

// errors.csv starts with the header as uploaded (API.md §4): the same URL must not give a file of
// another shape before the worker has read that header than after; the header is then read from
// the stored upload.

/** A service whose workers start only when a test starts them, so imports stay queued. */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const ERROR_COLUMNS = 'error_row,error_field,error_code,error_message';

async function upload(key: string, csv: string, query: Record<string, string> = {}): Promise<string> {
  const response = await ctx.upload(key, csv, query);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/** The first line of a CSV download. */
const headerLine = (body: string) => body.split(/\r?\n/)[0];

describe('GET /v1/jobs/{id}/errors.csv before the import has read its header', () => {
  it('starts with the uploaded columns and the error columns while the import is queued, as it does once it ran', async () => {
    const { key } = await ctx.createAccount();
    const id = await upload(key, 'ean;name;Farbe\n4006381333931;Pen;blau\n4006381333932;Bad check digit;rot\n', { on_error: 'skip' });

    const queued = await ctx.get(key, `/v1/jobs/${id}/errors.csv`);
    expect(queued.statusCode, queued.body).toBe(200);
    // In the upload's own delimiter, as the report of the import will be.
    expect(queued.body.trim()).toBe(`ean;name;Farbe;${ERROR_COLUMNS.replaceAll(',', ';')}`);
    // The JSON report has no header to wait for: an empty page until rows fail.
    const page = await ctx.get(key, `/v1/jobs/${id}/errors`);
    expect(page.statusCode).toBe(200);
    expect(page.json()).toEqual({ data: [], next_cursor: null });

    ctx.startWorkers();
    expect((await ctx.waitForJob(key, id)).status).toBe('completed');
    const ended = await ctx.get(key, `/v1/jobs/${id}/errors.csv`);
    expect(ended.statusCode).toBe(200);
    expect(headerLine(ended.body)).toBe(`ean;name;Farbe;${ERROR_COLUMNS.replaceAll(',', ';')}`);
    expect(ended.body).toContain('4006381333932;Bad check digit;rot;2;ean;INVALID_CHECK_DIGIT');
  });

  it('gives the error columns alone for an import that ended without a header (EMPTY_FILE)', async () => {
    const { key } = await ctx.createAccount();
    if (!ctx.workers) ctx.startWorkers();
    const job = await ctx.importCsv(key, '\n\n');
    expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    const response = await ctx.get(key, `/v1/jobs/${job.id}/errors.csv`);
    expect(response.statusCode).toBe(200);
    expect(headerLine(response.body)).toBe(ERROR_COLUMNS);
    expect(response.body).toContain('EMPTY_FILE');
  });
});
