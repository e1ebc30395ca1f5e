import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedUploads as uploadsOf } from '../support/stored-files.js';
import { multipartBody } from '../support/multipart.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let key: string;
let accountId: string;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  ({ id: accountId, key } = await ctx.createAccount());
});
afterAll(async () => ctx?.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CSV = 'ean,name\n4006381333931,Pen\n';

/** Asserts the error envelope of API.md §1 and returns the body. */
function expectEnvelope(response: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<Record<string, unknown>>();
  expect(body.error_code).toBe(code);
  expect(typeof body.error).toBe('string');
  expect((body.error as string).length).toBeGreaterThan(0);
  expect(body.detail).toBe(body.error);
  expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  expect(Math.abs(Date.parse(body.timestamp as string) - Date.now())).toBeLessThan(60_000);
  expect(response.headers['x-request-id']).toBeTruthy();
  return body;
}

async function jobCount(): Promise<number> {
  const { rows } = await ctx.db.query<{ count: number }>('SELECT count(*)::int AS count FROM jobs WHERE account_id = $1', [accountId]);
  return rows[0]!.count;
}

describe('error envelope and request ids', () => {
  it('gives every error the same envelope: error, detail, error_code and an ISO 8601 UTC timestamp', async () => {
    expectEnvelope(await ctx.app.inject({ method: 'GET', url: '/v1/jobs' }), 401, 'AUTHENTICATION_REQUIRED');
    expectEnvelope(await ctx.get('ck_unknown', '/v1/jobs'), 401, 'INVALID_API_KEY');
    expectEnvelope(await ctx.get(key, `/v1/jobs/${randomUUID()}`), 404, 'NOT_FOUND');
    expectEnvelope(await ctx.get(key, '/v1/jobs?limit=0'), 400, 'BAD_REQUEST');
    expectEnvelope(await ctx.get(key, '/v1/products/4006381333931'), 404, 'NOT_FOUND');
  });

  it('sends an X-Request-Id on successful and failed responses, a new one each time', async () => {
    const responses = [
      await ctx.app.inject({ method: 'GET', url: '/healthz' }),
      await ctx.get(key, '/v1/jobs'),
      await ctx.app.inject({ method: 'GET', url: '/v1/jobs' }),
      await ctx.app.inject({ method: 'GET', url: '/nowhere' }),
    ];
    const ids = responses.map((response) => response.headers['x-request-id']);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('echoes a sane incoming X-Request-Id, also on errors', async () => {
    const id = 'client-42.retry:1_a';
    const ok = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } });
    expect(ok.headers['x-request-id']).toBe(id);
    const failed = await ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-request-id': id } });
    expect(failed.statusCode).toBe(401);
    expect(failed.headers['x-request-id']).toBe(id);
  });

  it('replaces an incoming X-Request-Id that is not a sane token', async () => {
    for (const id of ['has spaces', 'x'.repeat(129), '<script>', 'a\u00e9b']) {
      const response = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } });
      expect(response.headers['x-request-id'], id).toMatch(UUID);
    }
  });

  it('answers 404 NOT_FOUND for an unknown route, with or without a key', async () => {
    expectEnvelope(await ctx.app.inject({ method: 'GET', url: '/v1/nothing-here' }), 404, 'NOT_FOUND');
    expectEnvelope(await ctx.get(key, '/v1/nothing-here?x=1'), 404, 'NOT_FOUND');
    expectEnvelope(await ctx.app.inject({ method: 'DELETE', url: '/healthz' }), 404, 'NOT_FOUND');
  });
});

describe('bad requests', () => {
  it('answers 400 BAD_REQUEST for malformed JSON on the admin route', async () => {
    for (const payload of ['{"email": ', '{email: "a@b.c"}', 'null x']) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/v1/admin/accounts',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        payload,
      });
      const body = expectEnvelope(response, 400, 'BAD_REQUEST');
      expect(body.error).toMatch(/JSON/);
    }
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a JSON route whose body is sent as text/plain, and writes nothing', async () => {
    const plain = (method: 'POST' | 'PATCH', url: string, payload: unknown, credential = key) =>
      ctx.app.inject({ method, url, headers: { 'x-api-key': credential, 'content-type': 'text/plain' }, payload: JSON.stringify(payload) });
    const before = await jobCount();
    for (const response of [
      await plain('POST', '/v1/exports', { format: 'csv' }),
      await plain('POST', '/v1/enrichments', {}),
      await plain('POST', '/v1/keys', { name: 'plain' }),
      await plain('POST', '/v1/products', { ean: '4006381333931', name: 'Pen' }),
      await plain('PATCH', `/v1/admin/accounts/${accountId}`, { tier: 'PRO' }, ADMIN_KEY),
    ]) {
      const body = expectEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(body.error).toMatch(/^Unsupported Content-Type 'text\/plain': send the body as application\/json\.$/);
    }
    expect(await jobCount()).toBe(before);
    // A route that takes no body still answers an empty one labelled text/plain.
    const cancel = await ctx.app.inject({
      method: 'POST', url: `/v1/jobs/${randomUUID()}/cancel`, headers: { 'x-api-key': key, 'content-type': 'text/plain' }, payload: '',
    });
    expectEnvelope(cancel, 404, 'NOT_FOUND');
    const account = await ctx.app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-api-key': key } });
    expect(account.json().tier).toBe('FREE');
  });

  it('answers 415 for a multipart body on a JSON route: no whole-catalog enrichment, no export, no key', async () => {
    const form = multipartBody([{ name: 'file', filename: 'request.json', content: '{"eans":["4006381333931"]}' }]);
    const before = await jobCount();
    const { rows: keysBefore } = await ctx.db.query('SELECT id FROM api_keys WHERE account_id = $1', [accountId]);
    for (const url of ['/v1/enrichments', '/v1/exports', '/v1/keys', '/v1/export-schedules', '/v1/import-profiles']) {
      const response = await ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key, 'content-type': form.contentType }, payload: form.body });
      const body = expectEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(body.error).toMatch(/^Unsupported Content-Type 'multipart\/form-data; boundary=.+': send the body as application\/json\.$/);
    }
    expect(await jobCount()).toBe(before);
    const { rows: keysAfter } = await ctx.db.query('SELECT id FROM api_keys WHERE account_id = $1', [accountId]);
    expect(keysAfter).toHaveLength(keysBefore.length);
    // Without a body at all, an enrichment still means the whole catalog (API.md §4).
    const whole = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': key } });
    expect(whole.statusCode, whole.body).toBe(202);
  });

  it('answers 400 BAD_REQUEST naming the parameter for bad import query values, and starts no job', async () => {
    const before = await jobCount();
    const cases: Array<[Record<string, string>, string]> = [
      [{ mode: 'bogus' }, 'mode'],
      [{ on_error: 'x' }, 'on_error'],
      [{ dry_run: 'maybe' }, 'dry_run'],
      [{ delimiter: '|' }, 'delimiter'],
      [{ encoding: 'latin-2' }, 'encoding'],
      [{ decimal_separator: ';' }, 'decimal_separator'],
      [{ sheet: '' }, 'sheet'],
      [{ sheet: 'x'.repeat(256) }, 'sheet'],
      [{ profile: '' }, 'profile'],
      [{ profile: 'x'.repeat(256) }, 'profile'],
    ];
    for (const [query, name] of cases) {
      const body = expectEnvelope(await ctx.upload(key, CSV, query), 400, 'BAD_REQUEST');
      expect(body.error, JSON.stringify(query)).toContain(`'${name}'`);
    }
    expect(await jobCount()).toBe(before);
    expect(await uploadsOf(ctx.db, ctx.config.DATA_DIR)).toEqual([]);
  });

  it('answers 400 BAD_REQUEST naming the parameter for bad job-list query values', async () => {
    const cases: Array<[string, string]> = [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
      ['type=bogus', 'type'],
      ['status=done', 'status'],
      ['cursor=not-a-cursor', 'cursor'],
    ];
    for (const [query, name] of cases) {
      const body = expectEnvelope(await ctx.get(key, `/v1/jobs?${query}`), 400, 'BAD_REQUEST');
      expect(body.error, query).toContain(name);
    }
  });

  it('refuses a limit that is not written in decimal digits, or given twice, with a message a person can act on', async () => {
    for (const query of ['limit=0x1F4', 'limit=1e2', 'limit=%2B5', 'limit=%205', 'limit=1&limit=2', 'limit=']) {
      const body = expectEnvelope(await ctx.get(key, `/v1/jobs?${query}`), 400, 'BAD_REQUEST');
      expect(body.error, query).toContain("'limit'");
      expect(body.error, query).not.toContain('NaN');
    }
  });

  it('says the range of a limit out of it', async () => {
    for (const query of ['limit=0', 'limit=501']) {
      const body = expectEnvelope(await ctx.get(key, `/v1/jobs?${query}`), 400, 'BAD_REQUEST');
      expect(body.error, query).toBe("Invalid query parameter 'limit': Expected a number from 1 to 500");
    }
  });

  it('accepts the limits 1 and 500 on /v1/jobs', async () => {
    expect((await ctx.get(key, '/v1/jobs?limit=1')).statusCode).toBe(200);
    expect((await ctx.get(key, '/v1/jobs?limit=500')).statusCode).toBe(200);
  });
});

describe('unsupported import bodies', () => {
  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a body that is neither text/csv nor multipart, and starts no job', async () => {
    const before = await jobCount();
    const cases: Array<[string, string | Buffer]> = [
      ['application/json', JSON.stringify({ ean: '4006381333931', name: 'Pen' })],
      ['application/json; charset=utf-8', '[]'],
      ['image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
      ['text/plain', CSV],
      ['application/x-www-form-urlencoded', 'file=x'],
    ];
    for (const [contentType, payload] of cases) {
      const response = await ctx.upload(key, payload, {}, { 'content-type': contentType });
      expectEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    const noContentType = await ctx.app.inject({ method: 'POST', url: '/v1/imports', headers: { 'x-api-key': key }, payload: Buffer.from(CSV) });
    expectEnvelope(noContentType, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await jobCount()).toBe(before);
    expect(await uploadsOf(ctx.db, ctx.config.DATA_DIR)).toEqual([]);
  });

  it('checks the key before the media type', async () => {
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/imports', headers: { 'content-type': 'image/png' }, payload: 'x' });
    expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
  });
});

describe('upload size limit', () => {
  let small: TestContext;
  let smallKey: string;
  let smallAccountId: string;

  beforeAll(async () => {
    small = await createTestContext({ workers: false, env: { MAX_UPLOAD_BYTES: '1000' } });
    ({ id: smallAccountId, key: smallKey } = await small.createAccount());
  });
  afterAll(async () => small?.close());

  const bigCsv = () => 'ean,name\n' + '4006381333931,A rather long product name\n'.repeat(100);

  const storedUploads = () => uploadsOf(small.db, small.config.DATA_DIR);

  async function expectNothingKept(uploadsBefore: string[]): Promise<void> {
    expect(await storedUploads()).toEqual(uploadsBefore);
    const { rows } = await small.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [smallAccountId]);
    expect(rows).toHaveLength(0);
  }

  it('answers 413 PAYLOAD_TOO_LARGE naming the limit for a raw CSV over MAX_UPLOAD_BYTES and keeps nothing', async () => {
    const before = await storedUploads();
    const body = expectEnvelope(await small.upload(smallKey, bigCsv()), 413, 'PAYLOAD_TOO_LARGE');
    expect(body.error).toContain('1000');
    await expectNothingKept(before);
  });

  it('answers 413 PAYLOAD_TOO_LARGE for a multipart file over MAX_UPLOAD_BYTES and keeps nothing', async () => {
    const before = await storedUploads();
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'big.csv', contentType: 'text/csv', content: bigCsv() }]);
    const response = await small.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { 'x-api-key': smallKey, 'content-type': contentType },
      payload: body,
    });
    expectEnvelope(response, 413, 'PAYLOAD_TOO_LARGE');
    await expectNothingKept(before);
  });

  it('accepts an upload of exactly MAX_UPLOAD_BYTES, raw and as a multipart file', async () => {
    const { key: exactKey } = await small.createAccount();
    const header = 'ean,name\n4006381333931,';
    const csv = header + 'x'.repeat(1000 - header.length - 1) + '\n';
    expect(Buffer.byteLength(csv)).toBe(1000);
    const raw = await small.upload(exactKey, csv);
    expect(raw.statusCode, raw.body).toBe(202);
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'exact.csv', content: csv }]);
    const multipart = await small.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { 'x-api-key': exactKey, 'content-type': contentType },
      payload: body,
    });
    expect(multipart.statusCode, multipart.body).toBe(202);
  });
});

describe('internal errors', () => {
  it('answers 500 INTERNAL_ERROR "Internal server error." without SQL or internals', async () => {
    const broken = await createTestContext({ workers: false });
    try {
      const account = await broken.createAccount();
      await broken.db.query('DROP TABLE jobs CASCADE');
      for (const response of [await broken.get(account.key, '/v1/jobs'), await broken.upload(account.key, CSV)]) {
        const body = expectEnvelope(response, 500, 'INTERNAL_ERROR');
        expect(body.error).toBe('Internal server error.');
        expect(Object.keys(body).sort()).toEqual(['detail', 'error', 'error_code', 'timestamp']);
        expect(response.body).not.toMatch(/jobs|relation|select|insert|postgres|stack|\.ts|node_modules/i);
      }
      expect(await uploadsOf(broken.db, broken.config.DATA_DIR)).toEqual([]);
    } finally {
      await broken.close();
    }
  });
});
