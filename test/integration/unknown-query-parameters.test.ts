import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A query parameter a job-starting route does not know is refused (API.md §1: 400 BAD_REQUEST
// saying which parameter) rather than dropped: a misspelt callback_url or on_error would
// otherwise start a job that runs without it. Lists stay lenient (cache-busting parameters).

const VALID_CSV = 'ean,name\n4006381333931,Pen\n';
const HOOK = 'https://hooks.example.com/catalog';
const IMPORT_PARAMETERS = 'profile, mode, on_error, delimiter, encoding, decimal_separator, sheet, dry_run, callback_url';

let ctx: TestContext;
let account: { id: string; key: string };

beforeAll(async () => {
  // Jobs stay queued (no workers); the callback host resolves to a public address.
  ctx = await createTestContext({
    workers: false,
    env: { CALLBACK_SECRET: 'callback-secret-0123456789' },
    resolveHost: async () => [{ address: '93.184.216.34', family: 4 }],
  });
  account = await ctx.createAccount();
});
afterAll(async () => ctx?.close());

async function jobCount(): Promise<number> {
  const { rows } = await ctx.db.query<{ count: string }>('SELECT count(*) FROM jobs WHERE account_id = $1', [account.id]);
  return Number(rows[0]!.count);
}

function expectBadRequest(response: LightMyRequestResponse, error: string) {
  expect(response.statusCode, response.body).toBe(400);
  const body = response.json<{ error: string; detail: string; error_code: string }>();
  expect(body).toMatchObject({ error_code: 'BAD_REQUEST', error, detail: error });
}

const importAt = (url: string, payload: string | Readable = VALID_CSV) =>
  ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': account.key, 'content-type': 'text/csv' }, payload });

describe('POST /v1/imports', () => {
  it.each([
    [`callbackurl=${encodeURIComponent(HOOK)}`, 'callbackurl'],
    [`callback_url[]=${encodeURIComponent(HOOK)}`, 'callback_url[]'],
    ['on-error=skip', 'on-error'],
    ['bogus=1', 'bogus'],
  ])('refuses ?%s with 400 naming the parameter and the accepted ones, and starts no job', async (query, name) => {
    const before = await jobCount();
    expectBadRequest(await importAt(`/v1/imports?${query}`), `Unknown query parameter '${name}': expected one of ${IMPORT_PARAMETERS}.`);
    expect(await jobCount()).toBe(before);
  });

  it('names several unknown parameters together, beside known ones', async () => {
    const response = await importAt('/v1/imports?mode=upsert&onerror=skip&dryrun=true');
    expectBadRequest(response, `Unknown query parameters 'onerror', 'dryrun': expected one of ${IMPORT_PARAMETERS}.`);
  });

  it('refuses an unknown parameter without waiting for the body', async () => {
    // A body that never ends: the answer comes from the query alone.
    const endless = new Readable({ read() {} });
    endless.push(VALID_CSV);
    const response = await importAt('/v1/imports?bogus=1', endless);
    expect(response.statusCode, response.body).toBe(400);
    endless.destroy();
  }, 5_000);

  it('accepts every documented parameter with 202', async () => {
    const profile = await sendJson(ctx.app, account.key, 'POST', '/v1/import-profiles', { name: 'shop' });
    expect(profile.statusCode, profile.body).toBe(201);
    const query = new URLSearchParams({
      profile: 'shop',
      mode: 'upsert',
      on_error: 'skip',
      delimiter: ',',
      encoding: 'utf-8',
      decimal_separator: '.',
      sheet: '1',
      dry_run: 'false',
      callback_url: HOOK,
    });
    const before = await jobCount();
    const response = await importAt(`/v1/imports?${query}`);
    expect(response.statusCode, response.body).toBe(202);
    expect(await jobCount()).toBe(before + 1);
    const { rows } = await ctx.db.query<{ options: { on_error: string }; callback_url: string }>(
      'SELECT options, callback_url FROM jobs WHERE id = $1',
      [response.json<{ id: string }>().id],
    );
    expect(rows[0]).toMatchObject({ options: { on_error: 'skip' }, callback_url: HOOK });
  });
});

describe('the other routes that start a job take no query parameter', () => {
  const BODY_OPTIONS = 'this request takes no query parameters; its options are fields of the JSON body.';

  it('refuses POST /v1/exports?callback_url= with 400 and starts no export', async () => {
    const before = await jobCount();
    const response = await sendJson(ctx.app, account.key, 'POST', `/v1/exports?callback_url=${encodeURIComponent(HOOK)}`, { format: 'csv' });
    expectBadRequest(response, `Unknown query parameter 'callback_url': ${BODY_OPTIONS}`);
    expect(await jobCount()).toBe(before);
  });

  it('refuses POST /v1/enrichments?overwrite=true with 400 and starts no enrichment', async () => {
    const before = await jobCount();
    expectBadRequest(await sendJson(ctx.app, account.key, 'POST', '/v1/enrichments?overwrite=true', {}), `Unknown query parameter 'overwrite': ${BODY_OPTIONS}`);
    expect(await jobCount()).toBe(before);
  });

  it('refuses POST /v1/export-schedules?callback_url= with 400 and creates no schedule', async () => {
    const url = `/v1/export-schedules?callback_url=${encodeURIComponent(HOOK)}`;
    const response = await sendJson(ctx.app, account.key, 'POST', url, { cron: '0 3 * * *', export: { format: 'csv' } });
    expectBadRequest(response, `Unknown query parameter 'callback_url': ${BODY_OPTIONS}`);
    const { rows } = await ctx.db.query('SELECT 1 FROM export_schedules WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);
  });

  it('refuses POST /v1/jobs/{id}/retry?callback_url= with 400 and leaves the job as it was', async () => {
    const started = await importAt('/v1/imports');
    const id = started.json<{ id: string }>().id;
    expect((await sendJson(ctx.app, account.key, 'POST', `/v1/jobs/${id}/cancel`)).json()).toMatchObject({ status: 'cancelled' });
    const response = await sendJson(ctx.app, account.key, 'POST', `/v1/jobs/${id}/retry?callback_url=${encodeURIComponent(HOOK)}`);
    expectBadRequest(response, "Unknown query parameter 'callback_url': this request takes no query parameters.");
    expect((await ctx.get(account.key, `/v1/jobs/${id}`)).json()).toMatchObject({ status: 'cancelled' });
    expect((await sendJson(ctx.app, account.key, 'POST', `/v1/jobs/${id}/retry`)).statusCode).toBe(202);
  });
});

describe('lists', () => {
  it('ignore a parameter they do not know, such as a cache-busting one', async () => {
    for (const url of ['/v1/jobs?_=1715683800000', '/v1/products?_=1', '/v1/import-profiles?nocache=1']) {
      expect((await ctx.get(account.key, url)).statusCode, url).toBe(200);
    }
  });
});
