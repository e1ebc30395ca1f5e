import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

function send(key: string, method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  return ctx.app.inject({ method, url, headers: { 'x-api-key': key }, payload: payload as object });
}

const AKENEO = {
  name: 'Akeneo DE',
  columns: { UGC_ean: 'ean', 'name-de_DE': 'name', UGC_price: 'price', UGC_color: 'attributes.color', enabled: 'ignore' },
  delimiter: ';',
  decimal_separator: ',',
};

describe('import profiles', () => {
  it('creates, reads, lists page by page, replaces and deletes a profile', async () => {
    const { key } = await ctx.createAccount();
    const created = await send(key, 'POST', '/v1/import-profiles', AKENEO);
    expect(created.statusCode).toBe(201);
    const profile = created.json<{ id: string }>();
    expect(profile).toMatchObject({
      ...AKENEO,
      encoding: null,
      sheet: null,
      mode: null,
      on_error: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await ctx.get(key, `/v1/import-profiles/${profile.id}`)).json()).toEqual(profile);

    await send(key, 'POST', '/v1/import-profiles', { name: 'Shopify', delimiter: 'tab', encoding: 'utf-16le', on_error: 'skip' });
    const first = (await ctx.get(key, '/v1/import-profiles?limit=1')).json<{ data: Array<{ name: string }>; next_cursor: string }>();
    expect(first.data.map((item) => item.name)).toEqual(['Shopify']);
    const second = (await ctx.get(key, `/v1/import-profiles?limit=1&cursor=${first.next_cursor}`)).json();
    expect(second).toMatchObject({ data: [{ name: 'Akeneo DE' }], next_cursor: null });

    const replaced = await send(key, 'PUT', `/v1/import-profiles/${profile.id}`, { name: 'Akeneo', sheet: 'Produkte', mode: 'update' });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ id: profile.id, name: 'Akeneo', columns: null, delimiter: null, sheet: 'Produkte', mode: 'update' });

    expect((await send(key, 'DELETE', `/v1/import-profiles/${profile.id}`)).statusCode).toBe(204);
    expect((await ctx.get(key, `/v1/import-profiles/${profile.id}`)).statusCode).toBe(404);
  });

  it('takes back the profile it answers: a GET body PUT as it is answers 200 and the same profile, null being "not set"', async () => {
    const { key } = await ctx.createAccount();
    const created = await send(key, 'POST', '/v1/import-profiles', { name: 'Shopify', delimiter: 'tab', sheet: null, mode: null });
    expect(created.statusCode).toBe(201);
    const profile = created.json<{ id: string }>();
    expect(profile).toMatchObject({ delimiter: '\t', sheet: null, mode: null, columns: null, encoding: null });
    const read = (await ctx.get(key, `/v1/import-profiles/${profile.id}`)).json<Record<string, unknown>>();
    // The fields the service sets itself are left out; everything else goes back as it was read.
    const { id: _id, created_at: _createdAt, updated_at: _updatedAt, ...settings } = read;
    const written = await send(key, 'PUT', `/v1/import-profiles/${profile.id}`, settings);
    expect(written.statusCode, written.body).toBe(200);
    expect(written.json()).toEqual({ ...read, updated_at: expect.any(String) });
    const job = await ctx.importCsv(key, 'ean\tname\n4006381333931\tPen\n', { profile: 'Shopify' });
    expect(job).toMatchObject({ status: 'completed', options: { delimiter: '\t', mode: 'upsert', sheet: null } });
  });

  it('finds a profile whose name is shaped like an id by that name, and by its id', async () => {
    const account = await ctx.createAccount();
    const name = '11111111-2222-3333-4444-555555555555';
    const created = await send(account.key, 'POST', '/v1/import-profiles', { ...AKENEO, name });
    expect(created.statusCode).toBe(201);
    const csv = 'UGC_ean;name-de_DE;enabled\n4006381333931;Kugelschreiber;1\n';
    for (const profile of [name, created.json<{ id: string }>().id]) {
      const job = await ctx.importCsv(account.key, csv, { profile });
      expect(job).toMatchObject({ status: 'completed', options: { profile: { name } } });
    }
  });

  it('keeps names unique per account, whatever their case: 409 DUPLICATE_NAME', async () => {
    const first = await ctx.createAccount();
    const second = await ctx.createAccount();
    expect((await send(first.key, 'POST', '/v1/import-profiles', { name: 'OFF' })).statusCode).toBe(201);
    const taken = await send(first.key, 'POST', '/v1/import-profiles', { name: 'off' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ error_code: 'DUPLICATE_NAME', error: "An import profile named 'off' already exists in this account." });
    expect((await send(second.key, 'POST', '/v1/import-profiles', { name: 'OFF' })).statusCode).toBe(201);
  });

  it("answers 404 for another account's profile, on read, replace, delete and import", async () => {
    const owner = await ctx.createAccount();
    const other = await ctx.createAccount();
    const { id } = (await send(owner.key, 'POST', '/v1/import-profiles', { name: 'Mine' })).json<{ id: string }>();
    expect((await ctx.get(other.key, `/v1/import-profiles/${id}`)).statusCode).toBe(404);
    expect((await send(other.key, 'PUT', `/v1/import-profiles/${id}`, { name: 'Stolen' })).statusCode).toBe(404);
    expect((await send(other.key, 'DELETE', `/v1/import-profiles/${id}`)).statusCode).toBe(404);
    for (const profile of [id, 'Mine']) {
      const upload = await ctx.upload(other.key, 'ean,name\n4006381333931,Pen\n', { profile });
      expect(upload.statusCode).toBe(404);
      expect(upload.json<{ error: string }>().error).toBe(
        `Import profile '${profile}' (query parameter 'profile') not found: create it with POST /v1/import-profiles.`,
      );
    }
    expect((await ctx.get(owner.key, `/v1/import-profiles/${id}`)).json()).toMatchObject({ name: 'Mine' });
  });

  it('refuses an invalid profile with 400 BAD_REQUEST naming the field, in POST and PUT', async () => {
    const { key } = await ctx.createAccount();
    const { id } = (await send(key, 'POST', '/v1/import-profiles', { name: 'Kept', delimiter: ';' })).json<{ id: string }>();
    const cases: Array<[unknown, string, RegExp]> = [
      [{}, 'name', /The name field is required/],
      [{ name: 'x', columns: { 'EAN Code': 'barcode' } }, 'columns.EAN Code', /Unknown target 'barcode' in columns/],
      [{ name: 'x', columns: { ean: 'ean', ' EAN ': 'ean' } }, 'columns', /names a header more than once/],
      [{ name: 'x', columns: { ['Größe'.normalize('NFC')]: 'attributes.size', ['Größe'.normalize('NFD')]: 'ignore' } }, 'columns', /names a header more than once/],
      [{ name: 'x', columns: { Farbe: 'attributes.Color', colour: 'attributes.color' } }, 'columns', /maps two headers to one attribute/],
      [{ name: 'x', encoding: 'latin-2' }, 'encoding', /./],
      [{ name: 'x', decimal_separator: ' ' }, 'decimal_separator', /./],
      [{ name: 'x', delimiter: '|' }, 'delimiter', /delimiter must be one of/],
      [{ name: 'x', mode: 'merge' }, 'mode', /./],
      [{ name: 'x', on_error: 'ignore' }, 'on_error', /./],
      [{ name: 'x', colums: {} }, 'body', /Unknown key 'colums'/],
    ];
    for (const [method, url] of [['POST', '/v1/import-profiles'], ['PUT', `/v1/import-profiles/${id}`]] as const) {
      for (const [body, field, message] of cases) {
        const response = await send(key, method, url, body);
        expect(response.statusCode, `${method} ${JSON.stringify(body)}`).toBe(400);
        const error = response.json<{ error: string; error_code: string; errors: Array<{ field: string; message: string }> }>();
        expect(error.error_code).toBe('BAD_REQUEST');
        expect(error.errors[0]).toEqual({ field, message: expect.stringMatching(message) });
        expect(error.error).toBe(error.errors[0]!.message);
      }
    }
    const profiles = (await ctx.get(key, '/v1/import-profiles')).json<{ data: Array<{ name: string; delimiter: string }> }>();
    expect(profiles.data).toEqual([expect.objectContaining({ name: 'Kept', delimiter: ';' })]);
  });

  it('needs the imports:write scope', async () => {
    const { key } = await ctx.createAccount();
    const created = await send(key, 'POST', '/v1/keys', { name: 'reader', scopes: ['jobs:read'] });
    const reader = created.json<{ key: string }>().key;
    const response = await ctx.get(reader, '/v1/import-profiles');
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error_code: 'PERMISSION_DENIED', error: "This key lacks the 'imports:write' scope." });
  });
});
