import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { reportOf, storedProducts, toCsv } from '../support/csv.js';
import { readmeSection, readmeSteps, runReadmeSteps } from '../support/readme-steps.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let baseUrl: string;

beforeAll(async () => {
  ctx = await createTestContext();
  baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await ctx.close();
});

async function createProfile(key: string, profile: Record<string, unknown>): Promise<void> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/import-profiles', headers: { 'x-api-key': key }, payload: profile });
  expect(response.statusCode).toBe(201);
}

describe('GET /v1/jobs/{id}/rows.csv', () => {
  it('runs the README walk-through as printed: the fixed rows.csv of a failed import imports every row', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const steps = readmeSteps(readmeSection(readme, '### Fix a failed import and upload it again (rows.csv)'));
    expect(steps).toHaveLength(3);
    const { key } = await ctx.createAccount();
    const dir = await mkdtemp(join(tmpdir(), 'rows-csv-'));
    try {
      const outputs = await runReadmeSteps(steps, dir, { CATALOG_URL: baseUrl, CATALOG_API_KEY: key });
      expect(outputs).toEqual(steps.map((step) => step.output));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("gives every row with its problems, names itself in links.rows_csv, and writes a windows-1252 upload's rows in its delimiter after a BOM", async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const csv = iconv.encode(toCsv([
      ['ean', 'name', 'brand'],
      ['4006381333931', 'Crème brûlée', 'Müller'],
      ['40063813339', 'Café', '=HYPERLINK("x")'],
    ], ';'), 'windows-1252');
    const job = await ctx.importCsv(key, csv, { encoding: 'windows-1252' });
    expect(job).toMatchObject({ status: 'failed', links: { rows_csv: `/v1/jobs/${job.id}/rows.csv` } });
    const response = await ctx.get(key, job.links.rows_csv!);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    // A BOM: the file is UTF-8 now, which overrides encoding=windows-1252 when it comes back.
    expect(response.body.startsWith('\uFEFF')).toBe(true);
    const lines = response.body.slice(1).trimEnd().split('\n');
    // The delimiter the file was read with (detected here), which detection finds again.
    expect(lines[0]).toBe('ean;name;brand;error_row;error_field;error_code;error_message');
    expect(lines[1]).toBe('4006381333931;Crème brûlée;Müller;;;;');
    // The formula cell goes out defused (the importer strips the ' again); the EAN keeps its hint.
    expect(lines[2]).toMatch(/^40063813339;Café;"'=HYPERLINK\(""x""\)";2;ean;INVALID_EAN;The EAN '40063813339' has 11 digits/);
    expect(lines).toHaveLength(3);
    const fixed = response.body.replace('40063813339;', '040063813339;');
    const again = await ctx.importCsv(key, fixed, { encoding: 'windows-1252' });
    expect(again).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    const products = await storedProducts(ctx, accountId);
    expect(products.map(({ name, brand }) => ({ name, brand }))).toEqual([
      { name: 'Café', brand: '=HYPERLINK("x")' },
      { name: 'Crème brûlée', brand: 'Müller' },
    ]);
  });

  it('writes both reports of a windows-1252 profile after a BOM, so each fixed report imports through the profile as it is', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    await createProfile(key, { name: 'legacy', encoding: 'windows-1252' });
    const upload = Buffer.from('ean,name,brand\n4006381333931,Cr\xe8me,M\xfcller\n5901234123458,Stra\xdfe,x', 'latin1');
    const job = await ctx.importCsv(key, upload, { profile: 'legacy' });
    expect(job).toMatchObject({ status: 'failed', progress: { rows_failed: 1 } });
    for (const report of ['rows.csv', 'errors.csv']) {
      const { body } = await ctx.get(key, `/v1/jobs/${job.id}/${report}`);
      expect(body.startsWith('\uFEFFean,name,brand,error_row,error_field,error_code,error_message\n')).toBe(true);
      expect(body).toContain('5901234123458,Straße,x,2,ean,INVALID_CHECK_DIGIT,The EAN check digit is invalid.\n');
      const again = await ctx.importCsv(key, body.replace('5901234123458', '5901234123457'), { profile: 'legacy' });
      expect(again).toMatchObject({ status: 'completed', progress: { rows_failed: 0 } });
      const products = await storedProducts(ctx, accountId);
      expect(products.map(({ ean, name, brand }) => [ean, name, brand])).toEqual([
        ...(report === 'rows.csv' ? [['4006381333931', 'Crème', 'Müller']] : []),
        ['5901234123457', 'Straße', 'x'],
      ]);
      await ctx.db.query('DELETE FROM products WHERE account_id = $1', [accountId]);
    }
  });

  it("writes both reports in a profile's delimiter, so each fixed report imports through a profile of ';' and decimal commas", async () => {
    const { id: accountId, key } = await ctx.createAccount();
    await createProfile(key, {
      name: 'akeneo',
      delimiter: ';',
      decimal_separator: ',',
      columns: { 'EAN-Code': 'ean', Bezeichnung: 'name', Preis: 'price', 'Währung': 'currency' },
    });
    const upload = 'EAN-Code;Bezeichnung;Preis;Währung\n4006381333931;Stift, blau;1,50;EUR\n5901234123458;Heft;2,00;EUR\n';
    const job = await ctx.importCsv(key, upload, { profile: 'akeneo' });
    expect(job).toMatchObject({ status: 'failed', options: { delimiter: ';' } });
    const rows = (await ctx.get(key, `/v1/jobs/${job.id}/rows.csv`)).body;
    expect(rows.trimEnd().split('\n')).toEqual([
      'EAN-Code;Bezeichnung;Preis;Währung;error_row;error_field;error_code;error_message',
      '4006381333931;Stift, blau;1,50;EUR;;;;',
      '5901234123458;Heft;2,00;EUR;2;ean;INVALID_CHECK_DIGIT;The EAN check digit is invalid.',
    ]);
    const errors = (await ctx.get(key, `/v1/jobs/${job.id}/errors.csv`)).body;
    expect(errors.trimEnd().split('\n')).toEqual([rows.split('\n')[0], rows.split('\n')[2]]);
    for (const report of [errors, rows]) {
      const again = await ctx.importCsv(key, report.replace('5901234123458', '5901234123457'), { profile: 'akeneo' });
      expect(again).toMatchObject({ status: 'completed', progress: { rows_failed: 0 } });
    }
    const products = await storedProducts(ctx, accountId);
    expect(products.map(({ ean, name, price }) => [ean, name, price])).toEqual([
      ['4006381333931', 'Stift, blau', '1.50'],
      ['5901234123457', 'Heft', '2.00'],
    ]);
  });

  it("writes the reports of Excel's windows-1252 file with a sep=; line in ';' after a BOM and without that line, which the same options read back", async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const upload = iconv.encode('sep=;\r\nean;name;price;currency\r\n4006381333931;Crème brûlée;1,50;EUR\r\n96385075;Größe M;12,00;EUR\r\n', 'windows-1252');
    const query = { encoding: 'windows-1252', decimal_separator: ',' };
    const job = await ctx.importCsv(key, upload, query);
    expect(job).toMatchObject({ status: 'failed', options: { delimiter: null } });
    const rows = (await ctx.get(key, `/v1/jobs/${job.id}/rows.csv`)).body;
    expect(rows).toBe(
      '\uFEFFean;name;price;currency;error_row;error_field;error_code;error_message\n' +
        '4006381333931;Crème brûlée;1,50;EUR;;;;\n' +
        '96385075;Größe M;12,00;EUR;2;ean;INVALID_CHECK_DIGIT;The EAN check digit is invalid.\n',
    );
    const errors = (await ctx.get(key, `/v1/jobs/${job.id}/errors.csv`)).body;
    expect(errors.split('\n').slice(0, 2)).toEqual(rows.split('\n').filter((_line, index) => index !== 1).slice(0, 2));
    const again = await ctx.importCsv(key, rows.replace('96385075;', '96385074;'), query);
    expect(again).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    const products = await storedProducts(ctx, accountId);
    expect(products.map(({ name, price }) => [name, price])).toEqual([
      ['Crème brûlée', '1.50'],
      ['Größe M', '12.00'],
    ]);
  });

  it('fails a COLUMN_COUNT row of a report uploaded again until its error_code is cleared, rather than import its cells shifted', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const job = await ctx.importCsv(key, 'ean,name,brand,color\n4006381334020,Pen,red\n5901234123457,Pad,Acme,blue\n');
    expect(job).toMatchObject({ status: 'failed', progress: { rows_failed: 1 } });
    const rows = (await ctx.get(key, `/v1/jobs/${job.id}/rows.csv`)).body;
    // The short row is filled up to the header's width: the error columns stay under their names.
    expect(rows.split('\n')[1]).toBe('4006381334020,Pen,red,,1,,COLUMN_COUNT,The row has 3 fields; the header has 4.');
    const errors = (await ctx.get(key, `/v1/jobs/${job.id}/errors.csv`)).body;
    const reported = {
      row: 1,
      ean: '4006381334020',
      field: null,
      code: 'COLUMN_COUNT',
      message:
        'The row was reported with COLUMN_COUNT (in error_code): its cells may not be under the right columns. ' +
        'Check that each cell is under its column, then clear error_code to import the row.',
    };
    for (const report of [rows, errors]) {
      const again = await ctx.importCsv(key, report);
      expect(again).toMatchObject({ status: 'failed', progress: { rows_failed: 1 } });
      expect(await reportOf(ctx, key, again.id)).toEqual([reported]);
    }
    // A report of that report lists the row again: every error_code cell of it holds it back.
    const second = await ctx.importCsv(key, rows, { on_error: 'skip' });
    const secondRows = (await ctx.get(key, `/v1/jobs/${second.id}/rows.csv`)).body;
    expect(secondRows.split('\n')[1]).toMatch(/^4006381334020,Pen,red,,1,,COLUMN_COUNT,The row has 3 fields; the header has 4\.,1,,COLUMN_COUNT,/);
    const halfCleared = secondRows.replace(/^(4006381334020,Pen,)red,,1,,COLUMN_COUNT,/m, '$1,red,1,,,');
    expect(await ctx.importCsv(key, halfCleared)).toMatchObject({ status: 'failed', progress: { rows_failed: 1 } });
    // The brand moved under its column and error_code cleared: the row imports as fixed.
    const fixed = rows.replace('4006381334020,Pen,red,,1,,COLUMN_COUNT,', '4006381334020,Pen,,red,1,,,');
    expect(await ctx.importCsv(key, fixed)).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 0 } });
    const products = await storedProducts(ctx, accountId);
    expect(products.map(({ ean, brand, attributes }) => [ean, brand, attributes])).toEqual([
      ['4006381334020', null, { color: 'red' }],
      ['5901234123457', 'Acme', { color: 'blue' }],
    ]);
  });

  it('keeps the error columns under their names for a row with extra cells, and skips rows of empty cells as the import did', async () => {
    const { key } = await ctx.createAccount();
    const csv = 'ean,name\n4006381333931,Pen\n,\n5901234123457,Pen, blue\n96385074,Ink\n';
    const job = await ctx.importCsv(key, csv);
    expect(job).toMatchObject({ status: 'failed', progress: { rows_total: 3 } });
    const rows = (await ctx.get(key, `/v1/jobs/${job.id}/rows.csv`)).body.trimEnd().split('\n');
    expect(rows).toEqual([
      'ean,name,error_row,error_field,error_code,error_message',
      '4006381333931,Pen,,,,',
      '5901234123457,Pen,2,,COLUMN_COUNT,The row has 3 fields; the header has 2., blue',
      '96385074,Ink,,,,',
    ]);
    const errors = (await ctx.get(key, `/v1/jobs/${job.id}/errors.csv`)).body.trimEnd().split('\n');
    expect(errors).toEqual([rows[0], rows[2]]);
  });

  it('adds the row where a file-level problem stopped the read after the rows before it', async () => {
    const { key } = await ctx.createAccount();
    const csv = Buffer.concat([Buffer.from('ean,name\n4006381333931,Pen\n96385074,Cr'), Buffer.from([0xe8]), Buffer.from('me\n')]);
    const job = await ctx.importCsv(key, csv);
    const lines = (await ctx.get(key, `/v1/jobs/${job.id}/rows.csv`)).body.trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(['ean,name,error_row,error_field,error_code,error_message', '4006381333931,Pen,,,,']);
    expect(lines[2]).toMatch(/^,,2,,INVALID_UTF8,"The file is not valid UTF-8: byte 0xE8 on line 3/);
    expect(lines).toHaveLength(3);
  });

  it("gives a header's problem on a line of its own that the import of the fixed file skips, keeping the rows' numbers", async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const failed = await ctx.importCsv(key, 'ean,title\n4006381333931,Pen\n96385075,Ink\n5901234123457,Pad\n');
    expect(failed).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    const rows = (await ctx.get(key, `/v1/jobs/${failed.id}/rows.csv`)).body;
    expect(rows.trimEnd().split('\n')).toEqual([
      'ean,title,error_row,error_field,error_code,error_message',
      ",,0,,MISSING_COLUMN,The header is missing the required column 'name'.",
      '4006381333931,Pen,,,,',
      '96385075,Ink,,,,',
      '5901234123457,Pad,,,,',
    ]);

    // The header fixed as the message says: the header's line is skipped, so the wrong check
    // digit is reported at row 2, as in the uploaded file.
    const second = await ctx.importCsv(key, rows.replace('ean,title,', 'ean,name,'));
    expect(second).toMatchObject({ status: 'failed', progress: { rows_total: 3, rows_failed: 1 } });
    const errors = (await ctx.get(key, `/v1/jobs/${second.id}/errors`)).json<{ data: Array<{ row: number; code: string }> }>();
    expect(errors.data.map(({ row, code }) => ({ row, code }))).toEqual([{ row: 2, code: 'INVALID_CHECK_DIGIT' }]);

    const again = (await ctx.get(key, `/v1/jobs/${second.id}/rows.csv`)).body;
    expect(again.trimEnd().split('\n').slice(0, 3)).toEqual([
      'ean,name,error_row,error_field,error_code,error_message,error_row,error_field,error_code,error_message',
      '4006381333931,Pen,,,,,,,,',
      '96385075,Ink,,,,,2,ean,INVALID_CHECK_DIGIT,The EAN check digit is invalid.',
    ]);
    const done = await ctx.importCsv(key, again.replace('96385075,', '96385074,'));
    expect(done).toMatchObject({ status: 'completed', progress: { rows_total: 3, rows_created: 3, rows_failed: 0 } });
    const products = await storedProducts(ctx, accountId);
    expect(products.map(({ ean, name }) => [ean, name])).toEqual([
      ['4006381333931', 'Pen'],
      ['5901234123457', 'Pad'],
      ['96385074', 'Ink'],
    ]);
  });

  it('ends with the row where a quote left open stopped the read, and an upload of that file as it is fails there', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const failed = await ctx.importCsv(key, 'ean,name\n4006381333931,Pen\n96385074,"Ink\n5901234123457,Pad\n');
    const rows = (await ctx.get(key, `/v1/jobs/${failed.id}/rows.csv`)).body;
    expect(rows.trimEnd().split('\n')).toEqual([
      'ean,name,error_row,error_field,error_code,error_message',
      '4006381333931,Pen,,,,',
      ',,2,,UNTERMINATED_QUOTE,Unterminated quoted field: the quote opened on line 3 (row 2) is never closed.',
    ]);
    // The rows from row 2 on could not be read and are not in the file: importing it must not
    // pass over them in silence.
    const again = await ctx.importCsv(key, rows);
    expect(again).toMatchObject({ status: 'failed', progress: { rows_total: 2, rows_failed: 1 } });
    const errors = (await ctx.get(key, `/v1/jobs/${again.id}/errors`)).json<{ data: Array<{ row: number; code: string }> }>();
    expect(new Set(errors.data.map(({ row, code }) => `${row} ${code}`))).toEqual(new Set(['2 REQUIRED']));
    expect(await storedProducts(ctx, accountId)).toEqual([]);
  });

  it('answers 409 for an import still running, telling to wait for its end, completed or failed', async () => {
    const account = await ctx.createAccount();
    const queue = ctx.queues.queue('import');
    await queue.pause();
    try {
      const id = (await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n123,Bad\n')).json<{ id: string }>().id;
      const rows = await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`);
      expect(rows.statusCode).toBe(409);
      expect(rows.json()).toMatchObject({
        error_code: 'JOB_NOT_FINISHED',
        error: 'The import has not ended yet: poll it until its status is completed or failed.',
      });
    } finally {
      await queue.resume();
    }
  });

  it('offers no rows.csv for a cancelled import, whose rows were not all checked and whose report the cancel undid', async () => {
    const account = await ctx.createAccount();
    const queue = ctx.queues.queue('import');
    await queue.pause();
    try {
      const id = (await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n123,Bad\n')).json<{ id: string }>().id;
      const cancelled = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
      expect(cancelled.json()).toMatchObject({ status: 'cancelled', links: { rows_csv: null } });
      const rows = await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`);
      expect(rows.statusCode).toBe(404);
      expect(rows.json()).toMatchObject({
        error_code: 'NOT_FOUND',
        error: 'This import was cancelled before its rows were all checked: it has no rows.csv. Retry it, or upload the file again.',
      });
    } finally {
      await queue.resume();
    }
  });

  it("answers 404 for an export job, another account's import, and an upload no longer stored", async () => {
    const owner = await ctx.createAccount();
    const other = await ctx.createAccount();
    const job = await ctx.importCsv(owner.key, 'ean,name\n123,Pen\n');
    expect((await ctx.get(other.key, `/v1/jobs/${job.id}/rows.csv`)).statusCode).toBe(404);
    const exportJob = await ctx.app.inject({
      method: 'POST',
      url: '/v1/exports',
      headers: { 'x-api-key': owner.key },
      payload: { format: 'csv' },
    });
    const exportId = exportJob.json<{ id: string }>().id;
    await ctx.waitForJob(owner.key, exportId);
    expect((await ctx.get(owner.key, `/v1/jobs/${exportId}/rows.csv`)).json()).toMatchObject({
      error_code: 'NOT_FOUND',
      error: 'This job is an export: only an import job has rows.csv.',
    });
    await ctx.db.query('UPDATE jobs SET input_path = NULL WHERE id = $1', [job.id]);
    const gone = await ctx.get(owner.key, `/v1/jobs/${job.id}/rows.csv`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json<{ error: string }>().error).toContain('no longer stored');
    // A poll may answer from the job cache until the change's announcement arrives.
    await vi.waitFor(async () => expect((await ctx.get(owner.key, `/v1/jobs/${job.id}`)).json()).toMatchObject({ links: { rows_csv: null } }));
  });
});
