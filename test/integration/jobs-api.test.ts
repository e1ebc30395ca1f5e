import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { gtinCheckDigit } from '../../src/shared/product/gtin.js';
import { multipartBody, type FormPart } from '../support/multipart.js';
import { storedUploads } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** The running service: workers on. */
let ctx: TestContext;
/** A service whose workers start only when a test starts them, so jobs stay queued. */
let idle: TestContext;

beforeAll(async () => {
  [ctx, idle] = await Promise.all([createTestContext(), createTestContext({ workers: false })]);
});
afterAll(async () => {
  await Promise.all([ctx?.close(), idle?.close()]);
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const VALID_CSV = 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n';
/** No `name` column: the import fails. */
const FAILING_CSV = 'ean,brand\n4006381333931,Acme\n';

function postMultipart(context: TestContext, key: string, parts: FormPart[], query: Record<string, string> = {}) {
  const { body, contentType } = multipartBody(parts);
  return context.app.inject({
    method: 'POST',
    url: '/v1/imports',
    query,
    headers: { 'x-api-key': key, 'content-type': contentType },
    payload: body,
  });
}

async function startJob(context: TestContext, key: string, csv: string): Promise<string> {
  const response = await context.upload(key, csv);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

describe('POST /v1/imports', () => {
  it('answers 202 with Location /v1/jobs/{id} and exactly {id, status: "processing"}', async () => {
    const { key } = await ctx.createAccount();
    const response = await ctx.upload(key, VALID_CSV);
    expect(response.statusCode).toBe(202);
    const body = response.json<{ id: string }>();
    expect(body).toEqual({ id: expect.stringMatching(UUID), status: 'processing' });
    expect(response.headers.location).toBe(`/v1/jobs/${body.id}`);
    expect((await ctx.waitForJob(key, body.id)).status).toBe('completed');
  });

  it('imports the multipart field "file", ignoring other fields', async () => {
    const { key } = await ctx.createAccount();
    const response = await postMultipart(ctx, key, [
      { name: 'note', content: 'weekly upload' },
      { name: 'file', filename: 'products.csv', contentType: 'text/csv', content: 'ean;name\n96385074;Notebook\n' },
    ]);
    expect(response.statusCode, response.body).toBe(202);
    expect(response.headers.location).toBe(`/v1/jobs/${response.json().id}`);
    const job = await ctx.waitForJob(key, response.json().id);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await ctx.get(key, '/v1/products/96385074')).json()).toMatchObject({ name: 'Notebook' });
  });

  it('imports a multipart file larger than the JSON body limit', async () => {
    const { key } = await ctx.createAccount();
    const rows = Array.from({ length: 2100 }, (_, index) => {
      const body = `400${String(index).padStart(9, '0')}`;
      return `${body}${gtinCheckDigit(body)},Product ${index},${'d'.repeat(1000)}\n`;
    });
    const csv = 'ean,name,description\n' + rows.join('');
    const response = await postMultipart(ctx, key, [{ name: 'file', filename: 'big.csv', content: csv }]);
    expect(response.statusCode, response.body).toBe(202);
    const job = await ctx.waitForJob(key, response.json().id);
    expect(Buffer.byteLength(csv)).toBeGreaterThan(2 * 1024 * 1024);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 2100, rows_created: 2100 } });
  });

  it('answers 400 BAD_REQUEST for a multipart body without a "file" field, and keeps nothing', async () => {
    const { id, key } = await idle.createAccount();
    for (const parts of [
      [{ name: 'note', content: 'no file here' }],
      [{ name: 'upload', filename: 'products.csv', contentType: 'text/csv', content: VALID_CSV }],
    ]) {
      const response = await postMultipart(idle, key, parts);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json().error_code).toBe('BAD_REQUEST');
      expect(response.json().error).toContain("'file'");
    }
    const { rows } = await idle.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [id]);
    expect(rows).toHaveLength(0);
    const { rows: inputs } = await idle.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE input_path IS NOT NULL');
    expect(await storedUploads(idle.db, idle.config.DATA_DIR)).toEqual(inputs.map((row) => row.input_path).sort());
  });

  it("answers 400 BAD_REQUEST saying so for a 'file' sent as a text field, not a file part, whatever its size, and keeps nothing", async () => {
    const { id, key } = await idle.createAccount();
    const overFieldLimit = `ean,name\n${'4006381333931,Pen\n'.repeat(5000)}`;
    expect(overFieldLimit.length).toBeGreaterThan(idle.config.MULTIPART_MAX_FIELD_BYTES);
    for (const parts of [
      [{ name: 'file', content: VALID_CSV }],
      [{ name: 'file', content: overFieldLimit }],
      [{ name: 'file', filename: 'products.csv', content: VALID_CSV }, { name: 'file', content: VALID_CSV }],
    ]) {
      const response = await postMultipart(idle, key, parts);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({
        error_code: 'BAD_REQUEST',
        error: "The multipart field 'file' must be a file part (with a filename), not a text field: send the CSV as a file.",
      });
    }
    const { rows } = await idle.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [id]);
    expect(rows).toHaveLength(0);
    const { rows: inputs } = await idle.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE input_path IS NOT NULL');
    expect(await storedUploads(idle.db, idle.config.DATA_DIR)).toEqual(inputs.map((row) => row.input_path).sort());
  });

  it('answers 400 BAD_REQUEST for an empty file', async () => {
    const { key } = await idle.createAccount();
    const response = await idle.upload(key, '');
    expect(response.statusCode).toBe(400);
    expect(response.json().error_code).toBe('BAD_REQUEST');
  });
});

describe('GET /v1/jobs', () => {
  let key: string;
  let ids: string[];
  let failedId: string;

  beforeAll(async () => {
    ({ key } = await ctx.createAccount());
    ids = [];
    for (let index = 0; index < 4; index += 1) ids.push(await startJob(ctx, key, VALID_CSV));
    failedId = await startJob(ctx, key, FAILING_CSV);
    ids.push(failedId);
    for (const id of ids) await ctx.waitForJob(key, id);
  });

  it('lists the account jobs newest first', async () => {
    const response = await ctx.get(key, '/v1/jobs');
    expect(response.statusCode).toBe(200);
    const body = response.json<{ data: JobResource[]; next_cursor: string | null }>();
    expect(body.data.map((job) => job.id)).toEqual([...ids].reverse());
    expect(body.next_cursor).toBeNull();
  });

  it('filters by status and type', async () => {
    const failed = (await ctx.get(key, '/v1/jobs?status=failed')).json<{ data: JobResource[] }>();
    expect(failed.data.map((job) => job.id)).toEqual([failedId]);
    const completed = (await ctx.get(key, '/v1/jobs?status=completed')).json<{ data: JobResource[] }>();
    expect(completed.data.map((job) => job.id)).toEqual(ids.slice(0, 4).reverse());
    expect((await ctx.get(key, '/v1/jobs?status=processing')).json().data).toEqual([]);
    expect((await ctx.get(key, '/v1/jobs?type=import')).json().data).toHaveLength(5);
    expect((await ctx.get(key, '/v1/jobs?type=export')).json().data).toEqual([]);
    const both = (await ctx.get(key, '/v1/jobs?type=import&status=failed')).json<{ data: JobResource[] }>();
    expect(both.data.map((job) => job.id)).toEqual([failedId]);
  });

  it('pages with limit=2 through all 5 jobs, each exactly once, in order', async () => {
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await ctx.get(key, url);
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json<{ data: JobResource[]; next_cursor: string | null }>();
      pageSizes.push(page.data.length);
      seen.push(...page.data.map((job) => job.id));
      cursor = page.next_cursor;
    } while (cursor && pageSizes.length < 10);
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual([...ids].reverse());
  });

  it('pages through a filtered list', async () => {
    const first = (await ctx.get(key, '/v1/jobs?status=completed&limit=3')).json<{ data: JobResource[]; next_cursor: string }>();
    expect(first.data).toHaveLength(3);
    const second = (await ctx.get(key, `/v1/jobs?status=completed&limit=3&cursor=${first.next_cursor}`)).json<{
      data: JobResource[];
      next_cursor: string | null;
    }>();
    expect([...first.data, ...second.data].map((job) => job.id)).toEqual(ids.slice(0, 4).reverse());
    expect(second.next_cursor).toBeNull();
  });

  it('does not list another account’s jobs', async () => {
    const other = await ctx.createAccount();
    expect((await ctx.get(other.key, '/v1/jobs')).json()).toEqual({ data: [], next_cursor: null });
  });
});

describe('GET /v1/jobs/{id}', () => {
  it('returns every field of the job resource', async () => {
    const { key } = await ctx.createAccount();
    const response = await ctx.upload(key, VALID_CSV, { mode: 'create', on_error: 'skip', delimiter: ',', dry_run: 'false' });
    const id = response.json<{ id: string }>().id;
    await ctx.waitForJob(key, id);
    const job = (await ctx.get(key, `/v1/jobs/${id}`)).json<JobResource>();
    expect(Object.keys(job).sort()).toEqual(
      ['created_at', 'detail', 'error_code', 'finished_at', 'id', 'links', 'options', 'phase', 'progress', 'schedule_id', 'started_at', 'status', 'type'].sort(),
    );
    expect(job).toMatchObject({ id, type: 'import', status: 'completed', phase: 'done', error_code: null });
    expect(job.detail === null || typeof job.detail === 'string').toBe(true);
    expect(job.progress).toEqual({
      rows_total: 1,
      rows_processed: 1,
      rows_succeeded: 1,
      rows_failed: 0,
      rows_created: 1,
      rows_updated: 0,
      rows_unchanged: 0,
    });
    expect(job.options).toEqual({
      mode: 'create',
      on_error: 'skip',
      delimiter: ',',
      dry_run: false,
      encoding: null,
      decimal_separator: '.',
      sheet: null,
      columns: null,
      profile: null,
    });
    for (const time of [job.created_at, job.started_at, job.finished_at]) expect(time).toMatch(ISO);
    expect(Date.parse(job.created_at)).toBeLessThanOrEqual(Date.parse(job.started_at!));
    expect(Date.parse(job.started_at!)).toBeLessThanOrEqual(Date.parse(job.finished_at!));
    expect(job.links).toEqual({
      self: `/v1/jobs/${id}`,
      errors: `/v1/jobs/${id}/errors`,
      errors_csv: `/v1/jobs/${id}/errors.csv`,
      result: null,
      rows_csv: `/v1/jobs/${id}/rows.csv`,
    });
  });

  it('shows a failed import with IMPORT_FAILED and a detail', async () => {
    const { key } = await ctx.createAccount();
    const job = await ctx.importCsv(key, FAILING_CSV);
    expect(job).toMatchObject({ status: 'failed', phase: 'done', error_code: 'IMPORT_FAILED' });
    expect(job.detail).toEqual(expect.any(String));
    expect(job.finished_at).toMatch(ISO);
  });

  it('answers 404 for another account’s job, on the job, its errors and errors.csv', async () => {
    const owner = await ctx.createAccount();
    const stranger = await ctx.createAccount();
    const id = (await ctx.importCsv(owner.key, FAILING_CSV)).id;
    for (const path of ['', '/errors', '/errors.csv']) {
      expect((await ctx.get(owner.key, `/v1/jobs/${id}${path}`)).statusCode, path).toBe(200);
      const response = await ctx.get(stranger.key, `/v1/jobs/${id}${path}`);
      expect(response.statusCode, path).toBe(404);
      expect(response.json().error_code).toBe('NOT_FOUND');
      expect(response.body).not.toContain(owner.id);
    }
  });

  it('answers 404 for an unknown id and for an id that is not a UUID', async () => {
    const { key } = await ctx.createAccount();
    for (const id of [randomUUID(), 'not-a-uuid', '123', `${randomUUID()}x`]) {
      for (const path of ['', '/errors', '/errors.csv']) {
        const response = await ctx.get(key, `/v1/jobs/${id}${path}`);
        expect(response.statusCode, `${id}${path}`).toBe(404);
        expect(response.json().error_code).toBe('NOT_FOUND');
      }
    }
  });
});

describe('Idempotency-Key', () => {
  it('returns the same job for the same key and body, with one job row and one stored upload', async () => {
    const { id: accountId, key } = await idle.createAccount();
    const headers = { 'idempotency-key': `nightly-${randomUUID()}` };
    const first = await idle.upload(key, VALID_CSV, {}, headers);
    expect(first.statusCode).toBe(202);
    const uploadsAfterFirst = await storedUploads(idle.db, idle.config.DATA_DIR);
    const second = await idle.upload(key, VALID_CSV, {}, headers);
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual(first.json());
    expect(second.headers.location).toBe(first.headers.location);
    const { rows } = await idle.db.query('SELECT id FROM jobs WHERE account_id = $1', [accountId]);
    expect(rows).toEqual([{ id: first.json().id }]);
    expect(await storedUploads(idle.db, idle.config.DATA_DIR)).toEqual(uploadsAfterFirst);
  });

  it('answers 422 VALIDATION_ERROR for the same key with a different body or different options', async () => {
    const { id: accountId, key } = await idle.createAccount();
    const headers = { 'idempotency-key': randomUUID() };
    expect((await idle.upload(key, VALID_CSV, {}, headers)).statusCode).toBe(202);
    const otherBody = await idle.upload(key, VALID_CSV.replace('Pen', 'Pencil'), {}, headers);
    expect(otherBody.statusCode).toBe(422);
    expect(otherBody.json().error_code).toBe('VALIDATION_ERROR');
    const otherOptions = await idle.upload(key, VALID_CSV, { mode: 'create' }, headers);
    expect(otherOptions.statusCode).toBe(422);
    expect(otherOptions.json().error_code).toBe('VALIDATION_ERROR');
    const { rows } = await idle.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [accountId]);
    expect(rows).toHaveLength(1);
  });

  it('keeps keys apart between accounts', async () => {
    const a = await idle.createAccount();
    const b = await idle.createAccount();
    const headers = { 'idempotency-key': randomUUID() };
    const first = await idle.upload(a.key, VALID_CSV, {}, headers);
    const second = await idle.upload(b.key, VALID_CSV, {}, headers);
    expect(second.statusCode).toBe(202);
    expect(second.json().id).not.toBe(first.json().id);
  });

  it('starts a new job for each request without a key, and hashes only an upload with one', async () => {
    const { key } = await idle.createAccount();
    const first = await idle.upload(key, VALID_CSV);
    const second = await idle.upload(key, VALID_CSV);
    expect(second.json().id).not.toBe(first.json().id);
    const keyed = await idle.upload(key, VALID_CSV, {}, { 'idempotency-key': randomUUID() });
    const hashes = async (id: string) => (await idle.db.query('SELECT request_hash FROM jobs WHERE id = $1', [id])).rows[0].request_hash;
    expect(await hashes(first.json().id)).toBeNull();
    expect(await hashes(keyed.json().id)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('progress while a job waits and runs', () => {
  // Last in this file: it starts the idle service's workers.
  it('shows a waiting job as processing/queued, then completed/done once workers run', async () => {
    const { key } = await idle.createAccount();
    const id = await startJob(idle, key, 'ean,name\n4006381333931,Pen\n96385074,Notebook\n');
    const waiting = (await idle.get(key, `/v1/jobs/${id}`)).json<JobResource>();
    expect(waiting).toMatchObject({
      status: 'processing',
      phase: 'queued',
      error_code: null,
      detail: null,
      started_at: null,
      finished_at: null,
      progress: { rows_total: null, rows_processed: 0, rows_failed: 0, rows_created: 0 },
    });
    idle.startWorkers();
    const done = await idle.waitForJob(key, id);
    expect(done).toMatchObject({ status: 'completed', phase: 'done', progress: { rows_processed: 2, rows_created: 2 } });
    expect(done.started_at).toMatch(ISO);
    expect(done.finished_at).toMatch(ISO);
  });
});
