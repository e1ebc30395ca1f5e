import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

// Every list route answers a cursor it did not make with 400 BAD_REQUEST naming the parameter,
// never a 500: garbage base64, base64 of garbage JSON, positions of the wrong shape or types,
// and values PostgreSQL would refuse (impossible dates, integers past bigint, NUL bytes).

let ctx: TestContext;
let account: { id: string; key: string };
let jobId: string;

const encode = (text: string) => Buffer.from(text).toString('base64url');
const json = (value: unknown) => encode(JSON.stringify(value));
const UUID = '3f0e7c52-8d4a-4b6e-9c1f-2a7b5d9e0c13';

const CRAFTED: Array<[string, string]> = [
  ['not base64 at all', '!!!%%%'],
  ['base64 of text that is not JSON', encode('{not json')],
  ['base64 of an object', json({ ean: '4006381333931' })],
  ['base64 of null', json(null)],
  ['an empty position', json([])],
  ['a position too long', json(['a', UUID, 'b'])],
  ['numbers where strings belong', json([123, UUID])],
  ['strings where numbers belong', json(['1', '2'])],
  ['booleans', json([true, false])],
  ['an impossible timestamp', json(['2026-13-45 99:99:99+00', UUID])],
  ['a timestamp past the year 294276', json(['300000-01-01 00:00:00+00', UUID])],
  ['a timestamp in words', json(['yesterday at noon', UUID])],
  ['a malformed uuid', json(['2026-05-14 10:30:00.123456+00', 'not-a-uuid'])],
  ['integers past bigint', json([1e300, 1e300])],
  ['integers past the safe range', json([2 ** 63, 2 ** 31])],
  ['negative integers', json([-1, -5])],
  ['fractions', json([1.5, 2.5])],
  ['a NUL byte', json(['\u0000', UUID])],
  ['a string longer than any key', json(['9'.repeat(300)])],
  ['a huge string', json(['9'.repeat(20_000)])],
  ['a huge cursor', 'A'.repeat(50_000)],
];

/** Every list route of the service, as the account (or the operator) calls it. */
const routes = (): Array<[string, string, string]> => [
  ['GET /v1/products', '/v1/products', account.key],
  ['GET /v1/jobs', '/v1/jobs', account.key],
  ['GET /v1/jobs (operator)', '/v1/jobs', ADMIN_KEY],
  ['GET /v1/jobs/{id}/errors', `/v1/jobs/${jobId}/errors`, account.key],
  ['GET /v1/keys', '/v1/keys', account.key],
  ['GET /v1/export-schedules', '/v1/export-schedules', account.key],
  ['GET /v1/import-profiles', '/v1/import-profiles', account.key],
];

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  account = await ctx.createAccount();
  jobId = randomUUID();
  await ctx.db.query(`INSERT INTO jobs (id, account_id, type, status) VALUES ($1, $2, 'import', 'failed')`, [jobId, account.id]);
});
afterAll(async () => {
  await ctx?.close();
});

describe('a crafted cursor', () => {
  it.each(CRAFTED)('(%s) is a 400 BAD_REQUEST on every list route', async (_name, cursor) => {
    for (const [name, path, key] of routes()) {
      const response = await ctx.app.inject({
        method: 'GET',
        url: `${path}?cursor=${encodeURIComponent(cursor)}`,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.statusCode, `${name}: ${response.body}`).toBe(400);
      expect(response.json(), name).toMatchObject({
        error_code: 'BAD_REQUEST',
        // A cursor longer than any the service makes is refused by the query schema's bound.
        error: cursor.length > 512 ? expect.stringMatching(/^Invalid query parameter 'cursor'/) : "Invalid query parameter 'cursor': use the next_cursor of a previous page.",
      });
    }
  });
});

describe('a limit', () => {
  const get = (path: string, key: string, limit: string) =>
    ctx.app.inject({ method: 'GET', url: `${path}?limit=${limit}`, headers: { authorization: `Bearer ${key}` } });
  // The operators' queue list pages like the others (its cursor is a queue name, not crafted above).
  const listRoutes = (): Array<[string, string, string]> => [...routes(), ['GET /v1/admin/queues', '/v1/admin/queues', ADMIN_KEY]];

  const range = 'Expected a number from 1 to 500';
  const digits = 'Expected a whole number written in decimal digits';
  it.each([
    ...['0', '501', '1000000'].map((limit) => [limit, range]),
    ...['ten', '1e2', '0x1F4', '2.5', '-1'].map((limit) => [limit, digits]),
  ])('of %s is a 400 on every list route: %s (a whole number out of 1..500 says the range, anything else asks for digits)', async (limit, expected) => {
    for (const [name, path, key] of listRoutes()) {
      const response = await get(path, key, limit);
      expect(response.statusCode, `${name}: ${response.body}`).toBe(400);
      expect(response.json(), name).toMatchObject({ error_code: 'BAD_REQUEST', error: `Invalid query parameter 'limit': ${expected}` });
    }
  });
});
