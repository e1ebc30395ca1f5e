import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let account: { id: string; key: string };

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  account = await ctx.createAccount();
});
afterAll(async () => ctx?.close());

describe('JSON bodies', () => {
  it('refuses a JSON body with a NUL character with 400 naming where it is, and stores nothing', async () => {
    const send = (method: 'PUT' | 'POST', url: string, payload: unknown) =>
      ctx.app.inject({ method, url, headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
    const refused = [
      [await send('PUT', '/v1/products/5901234123457', { name: 'Pen\u0000' }), 'name'],
      [await send('PUT', '/v1/products/5901234123457', { name: 'Pen', attributes: { 'col\u0000or': 'blue' } }), 'attributes."col\\u0000or"'],
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
    expect((await send('PUT', '/v1/products/5901234123457', { name: 'Pen' })).statusCode).toBe(201);
  });

  it('still refuses malformed and empty JSON and prototype poisoning as before', async () => {
    const send = (payload: string) =>
      ctx.app.inject({ method: 'PUT', url: '/v1/products/5901234123457', headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload });
    for (const payload of ['{"name": ', '', '{"name": "Pen", "__proto__": {"x": 1}}']) {
      const response = await send(payload);
      expect(response.statusCode, payload).toBe(400);
      expect(response.json().error_code, payload).toBe('BAD_REQUEST');
    }
  });

  it('lets a route that takes no body be called with an empty body labelled JSON', async () => {
    const empty = (method: 'POST' | 'DELETE', url: string) =>
      ctx.app.inject({ method, url, headers: { 'x-api-key': account.key, 'content-type': 'application/json' } });
    expect((await empty('POST', '/v1/jobs/00000000-0000-0000-0000-000000000000/cancel')).statusCode).toBe(404);
    await ctx.app.inject({ method: 'PUT', url: '/v1/products/4006381333931', headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload: '{"name":"Pen"}' });
    expect((await empty('DELETE', '/v1/products/4006381333931')).statusCode).toBe(204);
    const needsBody = await empty('POST', '/v1/keys');
    expect(needsBody.statusCode).toBe(400);
    expect(needsBody.json().error_code).toBe('BAD_REQUEST');
  });
});
