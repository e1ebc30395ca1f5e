import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScheduleTick } from '../../src/workers/export/schedule-worker.js';
import { untilQueueReady } from '../support/csv.js';
import { downloadResult, requestExport, runExportJob } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Exports in a partner's format (README "Exports in a partner's format"): a profile's own
// columns, delimiter and decimal separator export a file that imports back with the profile.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** README's akeneo profile; its headers are not in the order jsonb would keep them (by length). */
const AKENEO = {
  name: 'akeneo',
  delimiter: ';',
  decimal_separator: ',',
  columns: { UGC_ean: 'ean', 'name-de_DE': 'name', UGC_price: 'price', UGC_currency: 'currency', UGC_color: 'attributes.color', enabled: 'ignore' },
};
const AKENEO_HEADERS = Object.keys(AKENEO.columns);
const AKENEO_CSV = 'UGC_ean;name-de_DE;UGC_price;UGC_currency;UGC_color;enabled\n4006381333931;Kugelschreiber;1,50;EUR;blau;1\n';

function send(key: string, method: 'POST' | 'PUT', url: string, payload: unknown) {
  return ctx.app.inject({ method, url, headers: { 'x-api-key': key }, payload: payload as object });
}

interface Profile {
  id: string;
  columns: Record<string, string>;
}

/** An account with README's akeneo profile, and its product imported with it. */
async function akeneoAccount(): Promise<{ id: string; key: string; profile: Profile }> {
  const account = await ctx.createAccount();
  const created = await send(account.key, 'POST', '/v1/import-profiles', AKENEO);
  expect(created.statusCode, created.body).toBe(201);
  const imported = await ctx.importCsv(account.key, AKENEO_CSV, { profile: 'akeneo' });
  expect(imported).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
  return { ...account, profile: created.json<Profile>() };
}

describe('delimiter', () => {
  it("exports with the profile's delimiter a file the profile imports back unchanged", async () => {
    const { key, profile } = await akeneoAccount();
    const read = (await ctx.get(key, `/v1/import-profiles/${profile.id}`)).json<Profile>();
    const job = await runExportJob(ctx, key, { format: 'csv', columns: read.columns, decimal_separator: ',', delimiter: ';' });
    expect(job).toMatchObject({ status: 'completed', options: { delimiter: ';' } });
    const { text } = await downloadResult(ctx, key, job.id);
    expect(text).toBe('UGC_ean;name-de_DE;UGC_price;UGC_currency;UGC_color\n4006381333931;Kugelschreiber;1,50;EUR;blau\n');

    const reimported = await ctx.importCsv(key, text, { profile: 'akeneo' });
    expect(reimported).toMatchObject({ status: 'completed', progress: { rows_processed: 1, rows_unchanged: 1, rows_failed: 0 } });
  });

  it('writes tab-separated files, quoting the cells and headers that need it', async () => {
    const account = await ctx.createAccount();
    const columns = { 'EAN Code': 'ean', 'Name;DE': 'name', 'Notiz\tDE': 'description', Preis: 'price', Währung: 'currency' };
    expect((await send(account.key, 'POST', '/v1/import-profiles', { name: 'tabs', delimiter: 'tab', columns })).statusCode).toBe(201);
    const csv = '"EAN Code"\t"Name;DE"\t"Notiz\tDE"\tPreis\tWährung\n4006381333931\tStift, blau\t"a\tb ""c"""\t1.50\tEUR\n';
    expect(await ctx.importCsv(account.key, csv, { profile: 'tabs' })).toMatchObject({ status: 'completed' });

    const job = await runExportJob(ctx, account.key, { format: 'csv', columns, delimiter: 'tab' });
    expect(job).toMatchObject({ status: 'completed', options: { delimiter: '\t' } });
    const { text } = await downloadResult(ctx, account.key, job.id);
    expect(text).toBe('EAN Code\t"Name;DE"\t"Notiz\tDE"\tPreis\tWährung\n4006381333931\tStift, blau\t"a\tb ""c"""\t1.50\tEUR\n');
    const reimported = await ctx.importCsv(account.key, text, { profile: 'tabs' });
    expect(reimported).toMatchObject({ status: 'completed', progress: { rows_unchanged: 1, rows_failed: 0 } });
  });

  it('refuses a delimiter with NDJSON, and one that imports do not take, with 400 BAD_REQUEST', async () => {
    const { key } = await ctx.createAccount();
    const cases: Array<[unknown, string, string]> = [
      [{ format: 'ndjson', delimiter: ';' }, 'delimiter', 'delimiter is for CSV: it needs format csv.'],
      [{ format: 'csv', delimiter: '|' }, 'delimiter', 'delimiter must be one of ",", ";", "tab".'],
      [{ format: 'csv', delimiter: 1 }, 'delimiter', 'delimiter must be one of ",", ";", "tab".'],
    ];
    for (const [body, field, message] of cases) {
      const response = await requestExport(ctx, key, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, errors: [{ field, message }] });
      const scheduled = await send(key, 'POST', '/v1/export-schedules', { cron: '0 3 * * *', export: body });
      expect(scheduled.statusCode).toBe(400);
      expect(scheduled.json()).toMatchObject({ errors: [{ field: `export.${field}`, message }] });
    }
  });
});

describe('column order', () => {
  it('keeps the headers of a profile in the order given, in every answer', async () => {
    const { key, profile } = await akeneoAccount();
    expect(Object.keys(profile.columns)).toEqual(AKENEO_HEADERS);
    expect(Object.keys((await ctx.get(key, `/v1/import-profiles/${profile.id}`)).json<Profile>().columns)).toEqual(AKENEO_HEADERS);
    const listed = (await ctx.get(key, '/v1/import-profiles')).json<{ data: Profile[] }>();
    expect(Object.keys(listed.data[0]!.columns)).toEqual(AKENEO_HEADERS);
    const reversed = Object.fromEntries(Object.entries(AKENEO.columns).reverse());
    const replaced = await send(key, 'PUT', `/v1/import-profiles/${profile.id}`, { ...AKENEO, columns: reversed });
    expect(Object.keys(replaced.json<Profile>().columns)).toEqual([...AKENEO_HEADERS].reverse());
    expect(Object.keys((await ctx.get(key, `/v1/import-profiles/${profile.id}`)).json<Profile>().columns)).toEqual([...AKENEO_HEADERS].reverse());
  });

  it("writes the headers of a profile's columns in their order, in an export and in a schedule's runs", async () => {
    const { id, key, profile } = await akeneoAccount();
    const columns = (await ctx.get(key, `/v1/import-profiles/${profile.id}`)).json<Profile>().columns;
    const written = AKENEO_HEADERS.filter((header) => header !== 'enabled');
    const job = await runExportJob(ctx, key, { format: 'csv', columns, delimiter: ';', decimal_separator: ',' });
    expect((job.options as { columns: Array<{ header: string }> }).columns.map((column) => column.header)).toEqual(written);
    expect((await downloadResult(ctx, key, job.id)).text.split('\n')[0]).toBe(written.join(';'));

    const scheduled = await send(key, 'POST', '/v1/export-schedules', { cron: '0 3 * * *', export: { format: 'csv', columns, delimiter: ';' } });
    expect(scheduled.statusCode, scheduled.body).toBe(201);
    const headersOf = (options: { columns: Array<{ header: string }> }) => options.columns.map((column) => column.header);
    const schedule = scheduled.json<{ id: string; export: { columns: Array<{ header: string }> } }>();
    expect(headersOf(schedule.export)).toEqual(written);
    const listed = (await ctx.get(key, '/v1/export-schedules')).json<{ data: Array<typeof schedule> }>();
    expect(headersOf(listed.data[0]!.export)).toEqual(written);

    const deps = { db: ctx.db, enqueueExport: async () => {}, removeScheduler: async () => {} };
    const tick = (await runScheduleTick(deps, { scheduleId: schedule.id, accountId: id }, 'tick-1')) as { jobId: string };
    const { rows } = await ctx.db.query<{ options: { columns: Array<{ header: string }> } }>('SELECT options FROM jobs WHERE id = $1', [tick.jobId]);
    expect(headersOf(rows[0]!.options)).toEqual(written);
  });
});

describe('several headers for one field', () => {
  /** Aliases: a file may name the EAN column EAN or GTIN, the colour Farbe or Color. */
  const ALIASES = { EAN: 'ean', Name: 'name', GTIN: 'ean', Farbe: 'attributes.color', Color: 'attributes.color', enabled: 'ignore' };

  it("takes aliases in a profile, which PUTs back as read; its export writes each column once, under the first header, and imports back with the profile", async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const created = await send(key, 'POST', '/v1/import-profiles', { name: 'aliases', columns: ALIASES });
    expect(created.statusCode, created.body).toBe(201);
    const { id, created_at: _created, updated_at: _updated, ...read } = created.json<Profile & { created_at: string; updated_at: string }>();
    const replaced = await send(key, 'PUT', `/v1/import-profiles/${id}`, read);
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json<Profile>().columns).toEqual(ALIASES);

    const imported = await ctx.importCsv(key, 'GTIN,Name,Color\n4006381333931,Pen,blue\n', { profile: 'aliases' });
    expect(imported).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });

    const job = await runExportJob(ctx, key, { format: 'csv', columns: ALIASES });
    expect(job.options).toMatchObject({
      columns: [{ header: 'EAN', source: 'ean' }, { header: 'Name', source: 'name' }, { header: 'Farbe', source: 'attributes.color' }],
    });
    const { text } = await downloadResult(ctx, key, job.id);
    expect(text).toBe('EAN,Name,Farbe\n4006381333931,Pen,blue\n');
    const reimported = await ctx.importCsv(key, text, { profile: 'aliases' });
    expect(reimported).toMatchObject({ status: 'completed', progress: { rows_processed: 1, rows_unchanged: 1, rows_failed: 0 } });

    // A field named in fields is headed by its first header; an alias header named there is written as named.
    const chosen = await runExportJob(ctx, key, { format: 'csv', columns: ALIASES, fields: ['GTIN', 'name', 'Color'] });
    expect((await downloadResult(ctx, key, chosen.id)).text).toBe('GTIN,Name,Color\n4006381333931,Pen,blue\n');

    const scheduled = await send(key, 'POST', '/v1/export-schedules', { cron: '0 3 * * *', export: { format: 'csv', columns: ALIASES } });
    expect(scheduled.statusCode, scheduled.body).toBe(201);
    const schedule = scheduled.json<{ id: string; export: { columns: Array<{ header: string }> } }>();
    expect(schedule.export.columns.map((column) => column.header)).toEqual(['EAN', 'Name', 'Farbe']);
    const deps = { db: ctx.db, enqueueExport: async () => {}, removeScheduler: async () => {} };
    expect(await runScheduleTick(deps, { scheduleId: schedule.id, accountId }, 'tick-aliases')).toMatchObject({ jobId: expect.any(String) });
  });

  it('still fails a file holding two aliases of one field with DUPLICATE_COLUMN', async () => {
    const { key } = await ctx.createAccount();
    expect((await send(key, 'POST', '/v1/import-profiles', { name: 'aliases', columns: ALIASES })).statusCode).toBe(201);
    const job = await ctx.importCsv(key, 'EAN,GTIN,Name\n4006381333931,4006381333931,Pen\n', { profile: 'aliases' });
    expect(job).toMatchObject({ status: 'failed' });
    expect(job.detail).toContain("The header gives 'ean' twice, from 'EAN' and from 'GTIN'");
  });

  it('refuses an attribute spelt in two cases in a profile, an export and a schedule with 400 BAD_REQUEST naming both headers', async () => {
    const { key } = await ctx.createAccount();
    const { id } = (await send(key, 'POST', '/v1/import-profiles', { name: 'kept' })).json<{ id: string }>();
    const columns = { Name: 'name', Farbe: 'attributes.Color', colour: 'attributes.color' };
    const message =
      "columns maps two headers to one attribute spelt two ways: 'Farbe' goes to attributes.Color and 'colour' to attributes.color, " +
      'and attribute names are told apart case-insensitively. Spell it the same way for both.';
    const answers: Array<[string, Promise<{ statusCode: number; json: () => unknown }>]> = [
      ['columns', send(key, 'POST', '/v1/import-profiles', { name: 'twice', columns })],
      ['columns', send(key, 'PUT', `/v1/import-profiles/${id}`, { name: 'twice', columns })],
      ['columns', requestExport(ctx, key, { format: 'csv', columns })],
      ['export.columns', send(key, 'POST', '/v1/export-schedules', { cron: '0 3 * * *', export: { format: 'csv', columns } })],
    ];
    for (const [field, answer] of answers) {
      const response = await answer;
      expect(response.statusCode, field).toBe(400);
      expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field, message }] });
    }
    expect((await ctx.get(key, `/v1/import-profiles/${id}`)).json()).toMatchObject({ name: 'kept', columns: null });
  });

  it('takes several headers mapped to ignore, and the profile and its export still round-trip', async () => {
    const account = await ctx.createAccount();
    const columns = { EAN: 'ean', Name: 'name', enabled: 'ignore', family: 'ignore' };
    expect((await send(account.key, 'POST', '/v1/import-profiles', { name: 'ignores', columns })).statusCode).toBe(201);
    await ctx.importCsv(account.key, 'EAN,Name,enabled,family\n4006381333931,Pen,1,x\n', { profile: 'ignores' });
    const job = await runExportJob(ctx, account.key, { format: 'csv', columns });
    expect((await downloadResult(ctx, account.key, job.id)).text).toBe('EAN,Name\n4006381333931,Pen\n');
  });

  it('refuses fields naming one column twice, by its header and by its field, or two aliases of one field', async () => {
    const { key } = await ctx.createAccount();
    const aliases = (names: string) =>
      `fields names two columns for ean, ${names}, which columns maps to it: a file holding both could not be imported back with columns. Name one of them.`;
    const cases: Array<[Record<string, string>, string[], string]> = [
      [{ EAN: 'ean' }, ['EAN', 'name', 'ean'], "fields names the column 'EAN' twice: as 'EAN' and as 'ean'."],
      [ALIASES, ['EAN', 'name', 'GTIN'], aliases("'EAN' and 'GTIN'")],
      [ALIASES, ['GTIN', 'ean'], aliases("'GTIN' and 'EAN'")],
    ];
    for (const [columns, fields, message] of cases) {
      const response = await requestExport(ctx, key, { format: 'csv', columns, fields });
      expect(response.statusCode, JSON.stringify(fields)).toBe(400);
      expect(response.json()).toMatchObject({ errors: [{ field: 'fields', message }] });
    }
  });
});
