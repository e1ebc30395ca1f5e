import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eanNumber, sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };
let other: { id: string; key: string };

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
let counter = 0;
/** A fresh valid EAN per call, so tests do not share products. */
const freshEan = () => eanNumber((counter += 1));

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  owner = await ctx.createAccount();
  other = await ctx.createAccount();
});
afterAll(async () => ctx?.close());

const send = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, key = owner.key) =>
  sendJson(ctx.app, key, method, url, payload);

function expectError(response: LightMyRequestResponse, status: number, code: string, error: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.json()).toMatchObject({ error, detail: error, error_code: code });
}

function fieldsOf(response: LightMyRequestResponse): string[] {
  return (response.json().errors as Array<{ field: string }>).map((problem) => problem.field);
}

/** Moves a product's updated_at an hour back, so a later write's bump is visible without waiting. */
async function ageProduct(accountId: string, ean: string): Promise<string> {
  const { rows } = await ctx.db.query<{ updated_at: Date }>(
    "UPDATE products SET updated_at = updated_at - interval '1 hour' WHERE account_id = $1 AND ean = $2 RETURNING updated_at",
    [accountId, ean],
  );
  return rows[0]!.updated_at.toISOString();
}

describe('POST /v1/products', () => {
  it('creates a product: 201 with the resource and its Location, price kept with its scale', async () => {
    const ean = freshEan();
    const response = await send('POST', '/v1/products', {
      ean,
      name: 'Ballpoint pen',
      brand: 'Acme',
      category: 'Office',
      description: 'Blue ink',
      price: '1.50',
      currency: 'eur',
      stock: 12,
      image_url: 'https://img.example.com/pen.jpg',
      attributes: { color: 'blue', weight_g: 12, refillable: true },
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers.location).toBe(`/v1/products/${ean}`);
    const created = response.json();
    expect(created).toEqual({
      ean,
      name: 'Ballpoint pen',
      brand: 'Acme',
      category: 'Office',
      description: 'Blue ink',
      price: '1.50',
      currency: 'EUR',
      stock: 12,
      image_url: 'https://img.example.com/pen.jpg',
      attributes: { color: 'blue', weight_g: 12, refillable: true },
      created_at: expect.stringMatching(ISO),
      updated_at: created.created_at,
      derived: null,
    });
    expect((await send('GET', `/v1/products/${ean}`)).json()).toEqual(created);
    const { rows } = await ctx.db.query('SELECT price, pg_typeof(price)::text AS type FROM products WHERE ean = $1', [ean]);
    expect(rows[0]).toEqual({ price: '1.50', type: 'numeric' });
  });

  it('creates a product with only ean and name; the rest is null and attributes {}', async () => {
    const ean = freshEan();
    const response = await send('POST', '/v1/products', { ean, name: 'Bare' });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ brand: null, price: null, currency: null, stock: null, attributes: {} });
  });

  it('refuses a field the product does not have with 422 naming it, and stores nothing', async () => {
    const ean = freshEan();
    const response = await send('POST', '/v1/products', { ean, name: 'Pen', color: 'red' });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      error: "Unknown key 'color': expected one of ean, name, brand, category, description, price, currency, stock, image_url, attributes.",
      errors: [{ field: 'color', message: expect.stringContaining("Unknown key 'color'") }],
    });
    expect((await send('GET', `/v1/products/${ean}`)).statusCode).toBe(404);
    for (const [method, url] of [['PUT', `/v1/products/${ean}`], ['PATCH', `/v1/products/${ean}`]] as const) {
      const refused = await send(method, url, { name: 'Pen', colour: 'red', size: 'L' });
      expect(refused.statusCode, refused.body).toBe(422);
      expect(refused.json().errors.map((problem: { field: string }) => problem.field)).toEqual(['colour', 'size']);
    }
  });

  it('takes a product as read back, ignoring created_at, updated_at and derived', async () => {
    const ean = freshEan();
    const created = (await send('POST', '/v1/products', { ean, name: 'Pen', created_at: '2001-01-01T00:00:00Z' })).json();
    expect(created.created_at).not.toBe('2001-01-01T00:00:00.000Z');
    const read = (await send('GET', `/v1/products/${ean}`)).json();
    const written = await send('PUT', `/v1/products/${ean}`, { ...read, name: 'Blue pen', derived: { gtin14: '0' } });
    expect(written.statusCode, written.body).toBe(200);
    expect(written.json()).toMatchObject({ name: 'Blue pen', created_at: created.created_at, derived: null });
    expect((await send('PATCH', `/v1/products/${ean}`, { ...read, name: 'Red pen' })).json()).toMatchObject({ name: 'Red pen' });
  });

  it('answers 409 DUPLICATE_EAN when the EAN is already in the catalog, and keeps the stored product', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', { ean, name: 'First' });
    expectError(await send('POST', '/v1/products', { ean, name: 'Second' }), 409, 'DUPLICATE_EAN', 'A product with this EAN already exists.');
    expect((await send('GET', `/v1/products/${ean}`)).json().name).toBe('First');
  });

  it('answers 422 VALIDATION_ERROR "The EAN field is required." for an empty object, listing every problem', async () => {
    const response = await send('POST', '/v1/products', {});
    expectError(response, 422, 'VALIDATION_ERROR', 'The EAN field is required.');
    expect(response.json().errors).toEqual([
      { field: 'ean', message: 'The EAN field is required.' },
      { field: 'name', message: 'The name field is required.' },
    ]);
  });

  it('lists every field problem of a body in field order; `error` is the first', async () => {
    const response = await send('POST', '/v1/products', {
      ean: '4006381333932',
      name: 'x'.repeat(501),
      description: 'd'.repeat(10_001),
      price: '1.23456',
      currency: 'EURO',
      stock: -1,
      image_url: 'ftp://example.com/a.png',
      attributes: { nested: { no: 1 } },
    });
    expectError(response, 422, 'VALIDATION_ERROR', 'The EAN check digit is invalid.');
    expect(fieldsOf(response)).toEqual([
      'ean',
      'name',
      'description',
      'price',
      'currency',
      'stock',
      'image_url',
      'attributes.nested',
    ]);
    expect(response.json().errors).toContainEqual({ field: 'name', message: 'The name must be at most 500 characters.' });
    expect(response.json().errors).toContainEqual({ field: 'stock', message: 'The stock must be a whole number from 0 to 2147483647.' });
  });

  it('refuses an EAN of the wrong shape, and a price sent as a number (it would lose its scale)', async () => {
    expectError(await send('POST', '/v1/products', { ean: '12345', name: 'Pen' }), 422, 'VALIDATION_ERROR', 'The EAN must be 8, 12, 13 or 14 digits.');
    expectError(
      await send('POST', '/v1/products', { ean: 4006381333931, name: 'Pen' }),
      422,
      'VALIDATION_ERROR',
      'The EAN must be a string of 8, 12, 13 or 14 digits.',
    );
    const response = await send('POST', '/v1/products', { ean: freshEan(), name: 'Pen', price: 1.5, currency: 'EUR' });
    expect(response.statusCode).toBe(422);
    expect(response.json().errors).toEqual([{ field: 'price', message: expect.stringContaining('sent as a string') }]);
  });

  it('requires a currency with a price', async () => {
    const response = await send('POST', '/v1/products', { ean: freshEan(), name: 'Pen', price: '2.00' });
    expectError(response, 422, 'VALIDATION_ERROR', 'The currency field is required when price is set.');
    expect(fieldsOf(response)).toEqual(['currency']);
  });

  it('lists a missing currency beside the other problems of the same body', async () => {
    const response = await send('POST', '/v1/products', { name: 'Pen', price: '2.00' });
    expectError(response, 422, 'VALIDATION_ERROR', 'The EAN field is required.');
    expect(response.json().errors).toEqual([
      { field: 'ean', message: 'The EAN field is required.' },
      { field: 'currency', message: 'The currency field is required when price is set.' },
    ]);
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a product body that is not JSON', async () => {
    for (const method of ['POST', 'PUT', 'PATCH'] as const) {
      const response = await ctx.app.inject({
        method,
        url: method === 'POST' ? '/v1/products' : `/v1/products/${freshEan()}`,
        headers: { 'x-api-key': owner.key, 'content-type': 'text/csv' },
        payload: 'ean,name\n4006381333931,Pen\n',
      });
      expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE', "Unsupported Content-Type 'text/csv': send the body as application/json.");
    }
  });

  it('answers 400 BAD_REQUEST for malformed JSON and for a body that is not an object', async () => {
    const malformed = await ctx.app.inject({
      method: 'POST',
      url: '/v1/products',
      headers: { 'x-api-key': owner.key, 'content-type': 'application/json' },
      payload: '{"ean": ',
    });
    expectError(malformed, 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
    expectError(await send('POST', '/v1/products', [{ ean: freshEan() }]), 400, 'BAD_REQUEST', 'The request body must be a JSON object.');
  });

  it('needs a key (401) with the products:write scope (403)', async () => {
    const anonymous = await ctx.app.inject({ method: 'POST', url: '/v1/products', payload: { ean: freshEan(), name: 'Pen' } });
    expect(anonymous.statusCode).toBe(401);
    const reader = await ctx.createAccount();
    await ctx.db.query("UPDATE api_keys SET scopes = '{products:read}' WHERE account_id = $1", [reader.id]);
    const response = await send('POST', '/v1/products', { ean: freshEan(), name: 'Pen' }, reader.key);
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toContain('products:write');
  });
});

describe('PUT /v1/products/{ean}', () => {
  it('creates a missing product with 201, taking the EAN from the path', async () => {
    const ean = freshEan();
    const response = await send('PUT', `/v1/products/${ean}`, { name: 'Stapler', price: '3', currency: 'USD' });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ ean, name: 'Stapler', price: '3', currency: 'USD' });
  });

  it('says where the product it created is read with Location, as POST does; a replace (200) carries none', async () => {
    const ean = freshEan();
    const created = await send('PUT', `/v1/products/${ean}`, { name: 'Stapler' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.headers.location).toBe(`/v1/products/${ean}`);
    expect((await send('GET', created.headers.location as string)).json()).toMatchObject({ ean, name: 'Stapler' });
    const replaced = await send('PUT', `/v1/products/${ean}`, { name: 'Stapler v2' });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.headers.location).toBeUndefined();
  });

  it('replaces a stored product with 200: fields left out are cleared, created_at stays, updated_at moves', async () => {
    const ean = freshEan();
    const created = (
      await send('PUT', `/v1/products/${ean}`, { ean, name: 'Pen', brand: 'Acme', stock: 3, attributes: { color: 'red' } })
    ).json();
    const agedUpdatedAt = await ageProduct(owner.id, ean);
    const response = await send('PUT', `/v1/products/${ean}`, { name: 'Pen v2', description: 'New' });
    expect(response.statusCode).toBe(200);
    const replaced = response.json();
    expect(replaced).toMatchObject({ ean, name: 'Pen v2', description: 'New', brand: null, stock: null, attributes: {} });
    expect(replaced.created_at).toBe(created.created_at);
    expect(Date.parse(replaced.updated_at)).toBeGreaterThan(Date.parse(agedUpdatedAt));
  });

  it('takes attributes: null as no attributes, as null clears every other optional field', async () => {
    const ean = freshEan();
    await send('PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { color: 'red' } });
    const response = await send('PUT', `/v1/products/${ean}`, { name: 'Pen', brand: null, attributes: null });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ ean, brand: null, attributes: {} });
    const created = await send('POST', '/v1/products', { ean: freshEan(), name: 'Pad', attributes: null });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().attributes).toEqual({});
  });

  it('answers 422 when the body carries a different EAN than the path, and writes nothing', async () => {
    const ean = freshEan();
    const response = await send('PUT', `/v1/products/${ean}`, { ean: freshEan(), name: 'Pen' });
    expectError(response, 422, 'VALIDATION_ERROR', 'The EAN in the body must match the EAN in the path.');
    expect((await send('GET', `/v1/products/${ean}`)).statusCode).toBe(404);
  });

  it('validates the path EAN like a body EAN, and the body like POST', async () => {
    expectError(await send('PUT', '/v1/products/4006381333932', { name: 'Pen' }), 422, 'VALIDATION_ERROR', 'The EAN check digit is invalid.');
    const response = await send('PUT', `/v1/products/${freshEan()}`, { stock: 1.5 });
    expectError(response, 422, 'VALIDATION_ERROR', 'The name field is required.');
    expect(fieldsOf(response)).toEqual(['name', 'stock']);
  });
});

describe('PATCH /v1/products/{ean}', () => {
  it('changes only the given fields; null clears one; attributes merge key by key and null removes a key', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', {
      ean, name: 'Pen', brand: 'Acme', price: '1.50', currency: 'EUR', stock: 5, attributes: { color: 'red', size: 'M' },
    });
    const agedUpdatedAt = await ageProduct(owner.id, ean);
    const response = await send('PATCH', `/v1/products/${ean}`, { stock: 7, brand: null, attributes: { size: null, ink: 'gel' } });
    expect(response.statusCode, response.body).toBe(200);
    const patched = response.json();
    expect(patched).toMatchObject({
      ean, name: 'Pen', brand: null, price: '1.50', currency: 'EUR', stock: 7, attributes: { color: 'red', ink: 'gel' },
    });
    expect(Date.parse(patched.updated_at)).toBeGreaterThan(Date.parse(agedUpdatedAt));
    expect((await send('GET', `/v1/products/${ean}`)).json()).toEqual(patched);
  });

  it('removes every attribute for attributes: null, and leaves them alone when attributes is left out', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', { ean, name: 'Pen', attributes: { color: 'red', size: 'M' } });
    expect((await send('PATCH', `/v1/products/${ean}`, { stock: 2 })).json().attributes).toEqual({ color: 'red', size: 'M' });
    const response = await send('PATCH', `/v1/products/${ean}`, { attributes: null });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ ean, stock: 2, attributes: {} });
    expect((await send('GET', `/v1/products/${ean}`)).json().attributes).toEqual({});
  });

  it('answers 404 "Product not found" for an EAN not in the catalog', async () => {
    expectError(await send('PATCH', `/v1/products/${freshEan()}`, { stock: 1 }), 404, 'NOT_FOUND', 'Product not found');
  });

  it('refuses a price on a product without a currency, and accepts it once the product has one', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', { ean, name: 'Pen' });
    const refused = await send('PATCH', `/v1/products/${ean}`, { price: '9.90' });
    expectError(refused, 422, 'VALIDATION_ERROR', 'The currency field is required when price is set.');
    expect((await send('GET', `/v1/products/${ean}`)).json().price).toBeNull();
    await send('PATCH', `/v1/products/${ean}`, { currency: 'GBP' });
    expect((await send('PATCH', `/v1/products/${ean}`, { price: '9.90' })).json()).toMatchObject({ price: '9.90', currency: 'GBP' });
    expectError(await send('PATCH', `/v1/products/${ean}`, { currency: null }), 422, 'VALIDATION_ERROR', 'The currency field is required when price is set.');
    expect((await send('PATCH', `/v1/products/${ean}`, { currency: null, price: null })).json()).toMatchObject({ price: null, currency: null });
  });

  it('validates what it is given: a null name, a bad value, a different EAN', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', { ean, name: 'Pen' });
    expectError(await send('PATCH', `/v1/products/${ean}`, { name: null }), 422, 'VALIDATION_ERROR', 'The name field is required.');
    expectError(await send('PATCH', `/v1/products/${ean}`, { image_url: 'nope' }), 422, 'VALIDATION_ERROR', 'The image URL must be an http or https URL.');
    expectError(await send('PATCH', `/v1/products/${ean}`, { ean: freshEan() }), 422, 'VALIDATION_ERROR', 'The EAN in the body must match the EAN in the path.');
    expect((await send('PATCH', `/v1/products/${ean}`, { ean, name: 'Same EAN is fine' })).statusCode).toBe(200);
  });

  it('loses no field when many PATCHes of different fields and attribute keys run at once', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', { ean, name: 'Pen', currency: 'EUR' });
    const patches: unknown[] = [
      { brand: 'Acme' }, { category: 'Office' }, { description: 'Blue' }, { stock: 4 }, { price: '2.00' },
      { image_url: 'https://img.example.com/p.png' },
      ...Array.from({ length: 30 }, (_, i) => ({ attributes: { [`k${i}`]: i } })),
    ];
    const responses = await Promise.all(patches.map((patch) => send('PATCH', `/v1/products/${ean}`, patch)));
    expect(responses.map((response) => response.statusCode)).toEqual(patches.map(() => 200));
    const stored = (await send('GET', `/v1/products/${ean}`)).json();
    expect(stored).toMatchObject({
      brand: 'Acme', category: 'Office', description: 'Blue', stock: 4, price: '2.00', currency: 'EUR',
      image_url: 'https://img.example.com/p.png',
    });
    expect(stored.attributes).toEqual(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])));
  });
});

describe('DELETE /v1/products/{ean}', () => {
  it('answers 204 and the product is gone; a second delete is 404', async () => {
    const ean = freshEan();
    await send('POST', '/v1/products', { ean, name: 'Pen' });
    const deleted = await send('DELETE', `/v1/products/${ean}`);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expectError(await send('GET', `/v1/products/${ean}`), 404, 'NOT_FOUND', 'Product not found');
    expectError(await send('DELETE', `/v1/products/${ean}`), 404, 'NOT_FOUND', 'Product not found');
  });
});

describe('tenant isolation', () => {
  it("answers 404 to another account for GET, PATCH and DELETE of an EAN in this account's catalog", async () => {
    const ean = freshEan();
    const original = (await send('POST', '/v1/products', { ean, name: 'Mine', stock: 1 })).json();
    expectError(await send('GET', `/v1/products/${ean}`, undefined, other.key), 404, 'NOT_FOUND', 'Product not found');
    expectError(await send('PATCH', `/v1/products/${ean}`, { stock: 99 }, other.key), 404, 'NOT_FOUND', 'Product not found');
    expectError(await send('DELETE', `/v1/products/${ean}`, undefined, other.key), 404, 'NOT_FOUND', 'Product not found');
    expect((await send('GET', `/v1/products/${ean}`)).json()).toEqual(original);
  });

  it("lets another account POST and PUT the same EAN into its own catalog, leaving this one's untouched", async () => {
    const ean = freshEan();
    const original = (await send('POST', '/v1/products', { ean, name: 'Mine' })).json();
    expect((await send('PUT', `/v1/products/${ean}`, { name: 'Theirs' }, other.key)).statusCode).toBe(201);
    expect((await send('PUT', `/v1/products/${ean}`, { name: 'Theirs v2' }, other.key)).statusCode).toBe(200);
    const otherEan = freshEan();
    expect((await send('POST', '/v1/products', { ean: otherEan, name: 'Theirs' }, other.key)).statusCode).toBe(201);
    expect((await send('POST', '/v1/products', { ean: otherEan, name: 'Mine too' })).statusCode).toBe(201);
    expect((await send('GET', `/v1/products/${ean}`)).json()).toEqual(original);
    expect((await send('GET', `/v1/products/${ean}`, undefined, other.key)).json().name).toBe('Theirs v2');
  });
});
