import { PassThrough } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/shared/logger.js';
import { eanNumber, sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A 1 MiB JSON body holds some 80,000 keys or wrong values. Its 400 names a few and counts the
// rest, and lists at most 20 problems in `errors`: one problem per key made answers of 11 MB,
// written to the log too, that took seconds to build and ran the API out of memory when a few
// came at once.

let ctx: TestContext;
let account: { id: string; key: string };
let logged = '';

beforeAll(async () => {
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  ctx = await createTestContext({ workers: false, logger: pino(loggerOptions('info'), sink) });
  account = await ctx.createAccount();
});
afterAll(async () => ctx?.close());

const send = (method: 'POST' | 'PUT', url: string, payload: unknown) => sendJson(ctx.app, account.key, method, url, payload);

/** `count` keys k0, k1, … each holding 1. */
const wideObject = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, 1]));

const EXPORT_KEYS = 'format, gzip, fields, filter, callback_url, columns, decimal_separator, delimiter';

/** The 400 BAD_REQUEST of `response`, which must be small whatever the body held. */
function smallBadRequest(response: LightMyRequestResponse): { error: string; errors: Array<{ field: string; message: string }> } {
  expect(response.statusCode, response.body.slice(0, 500)).toBe(400);
  expect(response.body.length).toBeLessThan(6_000);
  const body = response.json<{ error: string; detail: string; error_code: string; errors: Array<{ field: string; message: string }> }>();
  expect(body.error_code).toBe('BAD_REQUEST');
  expect(body.detail).toBe(body.error);
  return body;
}

describe('a body of 80,000 unknown keys', () => {
  const keys = wideObject(80_000);

  it('is refused by an export with one problem naming five keys and counting the others', async () => {
    const body = smallBadRequest(await send('POST', '/v1/exports', { ...keys, format: 'csv' }));
    const message = `Unknown keys 'k0', 'k1', 'k2', 'k3', 'k4' and 79995 more: expected one of ${EXPORT_KEYS}.`;
    expect(body).toMatchObject({ error: message, errors: [{ field: 'body', message }] });
    expect(body.errors).toHaveLength(1);
  });

  it("is refused in an export's filter and in a schedule's export the same way", async () => {
    const filter = smallBadRequest(await send('POST', '/v1/exports', { format: 'csv', filter: keys }));
    expect(filter.errors).toEqual([
      { field: 'filter', message: "Unknown keys 'filter.k0', 'filter.k1', 'filter.k2', 'filter.k3', 'filter.k4' and 79995 more: expected one of brand, category, updated_since." },
    ]);
    const schedule = smallBadRequest(await send('POST', '/v1/export-schedules', { cron: '0 3 * * *', export: { ...keys, format: 'csv' } }));
    expect(schedule.errors).toEqual([
      { field: 'export', message: `Unknown keys 'export.k0', 'export.k1', 'export.k2', 'export.k3', 'export.k4' and 79995 more: expected one of ${EXPORT_KEYS}.` },
    ]);
    expect((await ctx.get(account.key, '/v1/export-schedules')).json()).toEqual({ data: [], next_cursor: null });
  });

  it('is refused by an import profile and an enrichment naming five keys, and logged in as few words', async () => {
    logged = '';
    const profile = smallBadRequest(await send('POST', '/v1/import-profiles', { name: 'Wide', ...keys }));
    expect(profile.errors).toEqual([{ field: 'body', message: "Unknown keys 'k0', 'k1', 'k2', 'k3', 'k4' and 79995 more." }]);
    const enrichment = smallBadRequest(await send('POST', '/v1/enrichments', keys));
    const enrichmentMessage = "Unknown keys 'k0', 'k1', 'k2', 'k3', 'k4' and 79995 more: expected one of eans, filter, overwrite, callback_url.";
    expect(enrichment).toMatchObject({ error: enrichmentMessage, errors: [{ field: 'body', message: enrichmentMessage }] });
    const lines = logged.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(4_000);
  });

  it('keeps naming a few unknown keys one by one, each in its own problem', async () => {
    const body = smallBadRequest(await send('POST', '/v1/exports', { format: 'csv', colour: 'blue', size: 'L' }));
    expect(body.errors.map((problem) => problem.field)).toEqual(['colour', 'size']);
    const profile = smallBadRequest(await send('POST', '/v1/import-profiles', { name: 'Two', colour: 1, size: 2 }));
    expect(profile.error).toBe("Unknown keys 'colour', 'size'.");
  });
});

describe('a body with more problems than errors lists', () => {
  it('lists the first 20 problems of an export, in order', async () => {
    const fields = Array.from({ length: 400 }, (_, index) => `colour${index}`);
    const body = smallBadRequest(await send('POST', '/v1/exports', { format: 'csv', fields }));
    expect(body.errors).toHaveLength(20);
    expect(body.errors[19]).toEqual({ field: 'fields', message: expect.stringContaining("Unknown field 'colour19'") });
    expect(body.error).toBe(body.errors[0]!.message);
  });

  it('lists every problem of a product body in its 422, as API.md has it (its attribute names are bounded first)', async () => {
    const attributes = Object.fromEntries(Array.from({ length: 900 }, (_, index) => [`a${index}`, { nested: true }]));
    const response = await send('POST', '/v1/products', { ean: eanNumber(1), name: 'Pen', attributes });
    expect(response.statusCode).toBe(422);
    const { errors } = response.json<{ errors: Array<{ field: string }> }>();
    expect(errors).toHaveLength(900);
    expect(errors[899]!.field).toBe('attributes.a899');
  });

  it('refuses a columns mapping of 60,000 headers for its count, before it checks each one', async () => {
    const columns = Object.fromEntries(Array.from({ length: 60_000 }, (_, index) => [`h${index}`, 'x']));
    const problem = (field: string) => [{ field, message: 'columns names at most 500 headers.' }];
    expect(smallBadRequest(await send('POST', '/v1/exports', { format: 'csv', columns })).errors).toEqual(problem('columns'));
    expect(smallBadRequest(await send('POST', '/v1/import-profiles', { name: 'Many', columns })).errors).toEqual(problem('columns'));
    const schedule = await send('POST', '/v1/export-schedules', { cron: '0 3 * * *', export: { format: 'csv', columns } });
    expect(smallBadRequest(schedule).errors).toEqual(problem('export.columns'));
  });
});
