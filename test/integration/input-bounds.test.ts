import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eanNumber, sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Every string and array a client sends has a documented bound (OWASP API4); past it the request
// gets the contract's error envelope: 422 VALIDATION_ERROR for product bodies, 400 for query
// parameters and the other bodies (API.md §1). A JSON body is also refused with 400
// when any string in it holds a NUL character, which PostgreSQL cannot store.

let ctx: TestContext;
let account: { id: string; key: string };

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  account = await ctx.createAccount();
});
afterAll(async () => ctx?.close());

const send = (method: 'GET' | 'POST', url: string, payload?: unknown) => sendJson(ctx.app, account.key, method, url, payload);

function expectError(response: LightMyRequestResponse, status: number, code: string, error: string | RegExp) {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<{ error: string; detail: string; error_code: string; timestamp: string }>();
  expect(body.error_code).toBe(code);
  expect(body.error).toMatch(error);
  expect(body.detail).toBe(body.error);
  expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
}

async function productCount(): Promise<number> {
  const { rows } = await ctx.db.query<{ count: string }>('SELECT count(*) FROM products WHERE account_id = $1', [account.id]);
  return Number(rows[0]!.count);
}

describe('product bodies', () => {
  it('refuses an attribute value over 10,000 characters with 422, naming the attribute, and writes nothing', async () => {
    const response = await send('POST', '/v1/products', { ean: eanNumber(1), name: 'Pen', attributes: { note: 'x'.repeat(10_001) } });
    expectError(response, 422, 'VALIDATION_ERROR', 'Attribute values must be at most 10000 characters.');
    expect(response.json().errors).toEqual([{ field: 'attributes.note', message: 'Attribute values must be at most 10000 characters.' }]);
    expect(await productCount()).toBe(0);
  });

  it('refuses an attribute name over 200 characters with 422, also in a PATCH', async () => {
    const attributes = { ['n'.repeat(201)]: 'blue' };
    expectError(await send('POST', '/v1/products', { ean: eanNumber(2), name: 'Pen', attributes }), 422, 'VALIDATION_ERROR', 'Attribute names must be at most 200 characters.');
    expect((await send('POST', '/v1/products', { ean: eanNumber(2), name: 'Pen', attributes: { color: 'x'.repeat(10_000) } })).statusCode).toBe(201);
    const patch = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${eanNumber(2)}`, { attributes });
    expectError(patch, 422, 'VALIDATION_ERROR', 'Attribute names must be at most 200 characters.');
  });
});

describe('product attributes', () => {
  it('refuses a body with more than 1,000 attribute names with 422, in POST, PUT and PATCH, and takes 1,000', async () => {
    const attributes = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`a${index}`, 'v']));
    const message = 'The attributes must have at most 1000 names.';
    const ean = eanNumber(3);
    const before = await productCount();
    expectError(await send('POST', '/v1/products', { ean, name: 'Pen', attributes: attributes(60_000) }), 422, 'VALIDATION_ERROR', message);
    expectError(await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: attributes(1_001) }), 422, 'VALIDATION_ERROR', message);
    expect(await productCount()).toBe(before);
    expect((await send('POST', '/v1/products', { ean, name: 'Pen', attributes: attributes(1_000) })).statusCode).toBe(201);
    const patch = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { attributes: attributes(1_001) });
    expectError(patch, 422, 'VALIDATION_ERROR', message);
    expect(patch.json().errors).toEqual([{ field: 'attributes', message }]);
  });
});

describe('attributes PostgreSQL could not store, and text counted in characters', () => {
  const unpaired = (where: string) => `The JSON body holds an unpaired surrogate (such as \\ud800) in ${where}; text must be valid Unicode.`;

  it('refuses an unpaired surrogate anywhere in a JSON body with 400 naming where, where jsonb made it a 500', async () => {
    const ean = eanNumber(4);
    const put = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { k: '\ud800' } });
    expectError(put, 400, 'BAD_REQUEST', unpaired('attributes.k'));
    expect((await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { k: 'ok 😀' } })).statusCode).toBe(201);
    expectError(await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { attributes: { k: '\udc00' } }), 400, 'BAD_REQUEST', unpaired('attributes.k'));
    expectError(await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { attributes: { ['\ud800x']: 'v' } }), 400, 'BAD_REQUEST', unpaired('attributes."\\ud800x"'));
    expect((await ctx.get(account.key, `/v1/products/${ean}`)).json()).toMatchObject({ attributes: { k: 'ok 😀' } });
    const elsewhere = [
      [await send('POST', '/v1/exports', { format: 'csv', filter: { brand: '\ud800' } }), 'filter.brand'],
      [await send('POST', '/v1/exports', { format: 'csv', columns: { '\ud800x': 'ean' } }), 'columns."\\ud800x"'],
      [await send('POST', '/v1/export-schedules', { cron: '0 9 * * *', export: { format: 'csv', filter: { category: '\udc00' } } }), 'export.filter.category'],
      [await send('POST', '/v1/enrichments', { filter: { brand: '\ud800' } }), 'filter.brand'],
      [await send('POST', '/v1/import-profiles', { name: 'p', columns: { 'E\ud800': 'ean' } }), 'columns."E\\ud800"'],
    ] as const;
    for (const [response, where] of elsewhere) expectError(response, 400, 'BAD_REQUEST', unpaired(where));
  });

  it('refuses a PATCH whose attributes, merged into the stored ones, pass 1,000 names, and leaves the product as it was', async () => {
    const ean = eanNumber(5);
    const names = (from: number, count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`a${from + index}`, 'v']));
    expect((await send('POST', '/v1/products', { ean, name: 'Pen', attributes: names(0, 900) })).statusCode).toBe(201);
    const patch = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { name: 'Renamed', attributes: names(900, 101) });
    expectError(patch, 422, 'VALIDATION_ERROR', 'The attributes must have at most 1000 names.');
    expect(patch.json().errors).toEqual([{ field: 'attributes', message: 'The attributes must have at most 1000 names.' }]);
    const stored = (await ctx.get(account.key, `/v1/products/${ean}`)).json<{ name: string; attributes: object }>();
    expect([stored.name, Object.keys(stored.attributes).length]).toEqual(['Pen', 900]);
    // Names it replaces or removes do not count twice: 900 stored, 100 new, one removed.
    const fits = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { attributes: { ...names(899, 101), a0: null } });
    expect(fits.statusCode, fits.body).toBe(200);
    expect(Object.keys(fits.json<{ attributes: object }>().attributes)).toHaveLength(999);
  });

  it('counts a name in characters, not UTF-16 units: 500 emoji are a name, 501 are too long', async () => {
    expect((await send('POST', '/v1/products', { ean: eanNumber(6), name: '😀'.repeat(500) })).statusCode).toBe(201);
    expectError(await send('POST', '/v1/products', { ean: eanNumber(7), name: '😀'.repeat(501) }), 422, 'VALIDATION_ERROR', 'The name must be at most 500 characters.');
  });

  it("names a '__proto__' key as what is refused, where it said the JSON was not valid", async () => {
    const response = await ctx.app.inject({
      method: 'PATCH', url: `/v1/products/${eanNumber(6)}`, headers: { 'x-api-key': account.key, 'content-type': 'application/json' },
      payload: '{"attributes":{"__proto__":null}}',
    });
    expectError(response, 400, 'BAD_REQUEST', "The JSON body has a key named '__proto__' (or 'constructor' holding 'prototype'); no field may have that name.");
    expectError(await ctx.app.inject({
      method: 'PATCH', url: `/v1/products/${eanNumber(6)}`, headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload: '{"attributes":',
    }), 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
  });
});

describe('query parameters', () => {
  it('refuses a product filter over 500 characters with 400 naming the parameter', async () => {
    expectError(await send('GET', `/v1/products?q=${'a'.repeat(501)}`), 400, 'BAD_REQUEST', /^Invalid query parameter 'q'/);
    expectError(await send('GET', `/v1/products?brand=${'a'.repeat(501)}`), 400, 'BAD_REQUEST', /^Invalid query parameter 'brand'/);
    expect((await send('GET', `/v1/products?q=${'a'.repeat(500)}`)).statusCode).toBe(200);
  });

  it('refuses a cursor over 512 characters with 400', async () => {
    expectError(await send('GET', `/v1/jobs?cursor=${'a'.repeat(513)}`), 400, 'BAD_REQUEST', /^Invalid query parameter 'cursor'/);
  });

  it('refuses an import delimiter that is only a property of every object (constructor) with 400, starting no job', async () => {
    const response = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n', { delimiter: 'constructor' });
    expectError(response, 400, 'BAD_REQUEST', /^Invalid query parameter 'delimiter'/);
    const { rows } = await ctx.db.query('SELECT id FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);
  });
});

describe('job and key bodies', () => {
  it('refuses an export filter over 500 characters with 400 naming the field', async () => {
    const response = await send('POST', '/v1/exports', { format: 'csv', filter: { brand: 'b'.repeat(501) } });
    expectError(response, 400, 'BAD_REQUEST', 'filter.brand must be at most 500 characters.');
  });

  it('refuses a schedule whose cron is over 200 characters or whose time zone is over 64 with 400', async () => {
    const list = (count: number) => Array.from({ length: count }, (_, index) => index).join(',');
    const cron = `${list(60)} ${list(24)} * * *`;
    expect(cron.length).toBeGreaterThan(200);
    expectError(await send('POST', '/v1/export-schedules', { cron, export: { format: 'csv' } }), 400, 'BAD_REQUEST', 'The cron field must be at most 200 characters.');
    const timezone = `Europe/${'B'.repeat(60)}`;
    const response = await send('POST', '/v1/export-schedules', { cron: '0 3 * * *', timezone, export: { format: 'csv' } });
    expectError(response, 400, 'BAD_REQUEST', 'timezone must be an IANA time zone name such as Europe/Berlin.');
  });

  it('refuses a key request listing over 50 scopes or an expires_at over 64 characters with 400 VALIDATION_ERROR', async () => {
    const scopes = Array.from({ length: 51 }, () => 'products:read');
    expectError(await send('POST', '/v1/keys', { name: 'ci', scopes }), 400, 'VALIDATION_ERROR', 'The scopes field must list at most 50 scopes.');
    const expiresAt = `2099-01-01T00:00:00.${'1'.repeat(50)}Z`;
    const response = await send('POST', '/v1/keys', { name: 'ci', expires_at: expiresAt });
    expectError(response, 400, 'VALIDATION_ERROR', 'The expires_at field must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.');
  });
});

describe('instants PostgreSQL cannot store', () => {
  // Well-formed ISO 8601 that timestamptz refuses: the year 0000, an offset past 15:59.
  it.each(['0000-01-01T00:00:00Z', '2026-01-01T00:00:00+16:00', '2099-01-01T00:00:00-23:59'])('refuses %s everywhere an instant is taken, and starts nothing', async (instant) => {
    const search = encodeURIComponent(instant);
    expectError(await send('GET', `/v1/products?updated_since=${search}`), 400, 'BAD_REQUEST', /^Invalid query parameter 'updated_since': Invalid ISO datetime/);
    const filter = { updated_since: instant };
    const since = 'filter.updated_since must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.';
    expectError(await send('POST', '/v1/exports', { format: 'csv', filter }), 400, 'BAD_REQUEST', since);
    expectError(await send('POST', '/v1/export-schedules', { cron: '0 3 * * *', export: { format: 'csv', filter } }), 400, 'BAD_REQUEST', since);
    expectError(await send('POST', '/v1/enrichments', { filter }), 400, 'BAD_REQUEST', /updated_since/);
    const expires = 'The expires_at field must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.';
    expectError(await send('POST', '/v1/keys', { name: 'ci', expires_at: instant }), 400, 'VALIDATION_ERROR', expires);
    const { rows } = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1 UNION ALL SELECT 1 FROM export_schedules WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);
  });

  it('takes the extremes PostgreSQL stores', async () => {
    for (const instant of ['0001-01-01T00:00:00Z', '2026-01-01T00:00:00+15:59', '2026-01-01T00:00:00-15:59']) {
      expect((await send('GET', `/v1/products?updated_since=${encodeURIComponent(instant)}`)).statusCode).toBe(200);
    }
  });
});

describe('JSON bodies', () => {
  it('refuses a JSON body with a NUL character with 400 naming where it is, and stores nothing', async () => {
    const put = (url: string, payload: unknown) => sendJson(ctx.app, account.key, 'PUT', url, payload);
    const refused = [
      [await put('/v1/products/5901234123457', { name: 'Pen\u0000' }), 'name'],
      [await put('/v1/products/5901234123457', { name: 'Pen', attributes: { 'col\u0000or': 'blue' } }), 'attributes."col\\u0000or"'],
      [await send('POST', '/v1/keys', { name: 'ci\u0000' }), 'name'],
    ] as const;
    for (const [response, where] of refused) {
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({
        error_code: 'BAD_REQUEST',
        error: `The JSON body holds a NUL character (\\u0000) in ${where}; no field may hold one.`,
      });
    }
    expect((await ctx.get(account.key, '/v1/products/5901234123457')).statusCode).toBe(404);
    expect((await put('/v1/products/5901234123457', { name: 'Pen' })).statusCode).toBe(201);
  });

  it('refuses a JSON body nested past 32 levels with 400 before parsing it, without a key too', async () => {
    const raw = (payload: string, url = '/v1/signup') =>
      ctx.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    // Half a million levels in just under 1 MiB: parsing and walking them held the event loop for seconds.
    const deep = await raw('['.repeat(500_000) + ']'.repeat(500_000));
    expectError(deep, 400, 'BAD_REQUEST', 'The JSON body nests arrays and objects more than 32 levels deep.');
    const nested = (depth: number) => JSON.stringify({ email: 'deep@example.com', password: 'a sound passphrase', x: JSON.parse('['.repeat(depth) + ']'.repeat(depth)) });
    expect((await raw(nested(32))).json().error).toBe('The JSON body nests arrays and objects more than 32 levels deep.');
    // 31 levels inside the body's own object: parsed, and answered by the route (an unknown field is ignored).
    expect((await raw(nested(31))).statusCode).toBe(201);
  });

  it('still refuses malformed and empty JSON and prototype poisoning as before', async () => {
    const raw = (payload: string) =>
      ctx.app.inject({ method: 'PUT', url: '/v1/products/5901234123457', headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload });
    for (const payload of ['{"name": ', '', '{"name": "Pen", "__proto__": {"x": 1}}']) {
      const response = await raw(payload);
      expect(response.statusCode, payload).toBe(400);
      expect(response.json().error_code, payload).toBe('BAD_REQUEST');
    }
  });

  it('refuses a JSON body over 1 MiB with 413 naming that limit, and one that is not JSON with 415 asking for JSON', async () => {
    const large = await send('POST', '/v1/keys', { name: 'ci', padding: 'x'.repeat(1024 * 1024) });
    expectError(large, 413, 'PAYLOAD_TOO_LARGE', 'The request body exceeds the limit of 1048576 bytes.');
    expect(large.json().limit_bytes).toBe(1048576);
    const xml = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': account.key, 'content-type': 'application/xml' }, payload: '<key/>' });
    expectError(xml, 415, 'UNSUPPORTED_MEDIA_TYPE', "Unsupported Content-Type 'application/xml': send the body as application/json.");
  });

  it('refuses a JSON body labelled with another charset than UTF-8, which it would misread', async () => {
    const labelled = (charset: string, payload: Buffer) =>
      ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': account.key, 'content-type': `application/json; charset=${charset}` }, payload });
    const utf16 = await labelled('utf-16', Buffer.from('{"name":"ci"}', 'utf16le'));
    expectError(utf16, 415, 'UNSUPPORTED_MEDIA_TYPE', "Unsupported Content-Type 'application/json; charset=utf-16': send the body as application/json in UTF-8.");
    expect((await labelled('ISO-8859-1', Buffer.from('{"name":"caf\u00e9"}', 'latin1'))).statusCode).toBe(415);
    for (const charset of ['utf-8', 'UTF8', '"utf-8"', 'us-ascii']) {
      expect((await labelled(charset, Buffer.from('{"name":"ci"}'))).statusCode, charset).toBe(201);
    }
  });

  it('refuses an unlabelled JSON body whose bytes are not UTF-8 with 400 naming the first, where it stored U+FFFD', async () => {
    const raw = (payload: Buffer) =>
      ctx.app.inject({ method: 'PUT', url: '/v1/products/4006381333948', headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload });
    // A Windows client's Latin-1 "Café crème": 0xE9 at offset 12.
    const latin1 = await raw(Buffer.from('{"name":"Caf\u00e9 cr\u00e8me"}', 'latin1'));
    const utf8 = 'JSON is sent in UTF-8 (RFC 8259); convert the text from the encoding it was written in.';
    expectError(latin1, 400, 'BAD_REQUEST', `The JSON body is not valid UTF-8: byte 0xE9 at offset 12. ${utf8}`);
    // A character cut short, and an encoded surrogate half, name their lead byte.
    expectError(await raw(Buffer.from([...Buffer.from('{"name":"Pen '), 0xe2, 0x82, 0x22, 0x7d])), 400, 'BAD_REQUEST', `byte 0xE2 at offset 13. ${utf8}`);
    expectError(await raw(Buffer.from([...Buffer.from('{"name":"'), 0xed, 0xa0, 0x80, 0x22, 0x7d])), 400, 'BAD_REQUEST', `byte 0xED at offset 9. ${utf8}`);
    expect((await ctx.get(account.key, '/v1/products/4006381333948')).statusCode).toBe(404);
    // The same text in UTF-8 is stored as sent, and so is a U+FFFD the client wrote itself.
    expect((await raw(Buffer.from('{"name":"Café crème \ufffd"}'))).statusCode).toBe(201);
    expect((await ctx.get(account.key, '/v1/products/4006381333948')).json().name).toBe('Café crème \ufffd');
  });

  it('lets a route that takes no body be called with an empty body labelled JSON', async () => {
    const empty = (method: 'POST' | 'DELETE', url: string) =>
      ctx.app.inject({ method, url, headers: { 'x-api-key': account.key, 'content-type': 'application/json' } });
    expect((await empty('POST', '/v1/jobs/00000000-0000-0000-0000-000000000000/cancel')).statusCode).toBe(404);
    await sendJson(ctx.app, account.key, 'PUT', '/v1/products/4006381333931', { name: 'Pen' });
    expect((await empty('DELETE', '/v1/products/4006381333931')).statusCode).toBe(204);
    const needsBody = await empty('POST', '/v1/keys');
    expect(needsBody.statusCode).toBe(400);
    expect(needsBody.json().error_code).toBe('BAD_REQUEST');
  });
});
