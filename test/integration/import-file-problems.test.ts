import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, untilQueueReady, type ReportEntry } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Problems with the file as a whole: they fail the job with IMPORT_FAILED, name the problem in the
// detail and are reported at the row where they were found (API.md §4 "Import rules").

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** Imports `csv` for a fresh account and checks what every file-level failure has in common. */
async function failedImport(csv: string | Buffer, query?: Record<string, string>) {
  const account = await ctx.createAccount();
  const job = await ctx.importCsv(account.key, csv, query);
  expect(job.status).toBe('failed');
  expect(job.error_code).toBe('IMPORT_FAILED');
  expect(job.detail).toContain(`No rows were imported. See /v1/jobs/${job.id}/errors.`);
  expect(await storedProducts(ctx, account.id)).toEqual([]);
  const report = await reportOf(ctx, account.key, job.id);
  return { job, report, fileEntry: report.at(-1)! };
}

const fileProblem = (row: number, code: string, message: string): ReportEntry => ({
  row, ean: null, field: null, code, message,
});

describe('import file problems', () => {
  it('fails a file with a header but no data rows, reported at row 1', async () => {
    const { job, report } = await failedImport('ean,name\n');
    expect(job.detail).toContain('The file has a header but no data rows.');
    expect(report).toEqual([fileProblem(1, 'NO_DATA_ROWS', 'The file has a header but no data rows.')]);
  });

  it('tells a file whose lines end with a carriage return alone (classic Mac OS) how to save it', async () => {
    const { report } = await failedImport('ean,name\r4006381333931,Pen\r96385074,Ink\r');
    expect(report).toEqual([fileProblem(0, 'MALFORMED_CSV', expect.stringContaining('end with a carriage return alone (classic Mac OS)'))]);
  });

  it('imports a file whose lines end with CR CR LF, as some Windows writers leave them', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\r\r\n4006381333931,Pen\r\r\n');
    expect(job.status).toBe('completed');
  });

  it('fails a file of blank lines after a header as having no data rows', async () => {
    const { report } = await failedImport('ean,name\r\n\r\n\r\n');
    expect(report).toEqual([fileProblem(1, 'NO_DATA_ROWS', 'The file has a header but no data rows.')]);
  });

  it.each([
    ['only a BOM', Buffer.from([0xef, 0xbb, 0xbf])],
    ['only a BOM and blank lines', Buffer.from('\uFEFF\r\n\r\n', 'utf8')],
    ['only blank lines', Buffer.from('\n\n\n')],
  ])('fails a file with %s as having no header, reported at row 0', async (_label, csv) => {
    const { job, report } = await failedImport(csv);
    expect(job.detail).toContain('The file is empty: it has no header row.');
    expect(report).toEqual([fileProblem(0, 'EMPTY_FILE', 'The file is empty: it has no header row.')]);
  });

  it('fails a header of empty names as having no header row', async () => {
    const { job, report } = await failedImport(' , ,\n4006381333931,Pen,\n');
    expect(job.detail).toContain('The file has no header row.');
    expect(report).toEqual([fileProblem(0, 'NO_HEADER', 'The file has no header row.')]);
  });

  it('fails a header that names a column twice', async () => {
    const { job, report } = await failedImport('ean,name,Name\n4006381333931,Pen,Pen\n');
    expect(job.detail).toContain("names the column 'Name' more than once");
    expect(report).toEqual([fileProblem(0, 'DUPLICATE_COLUMN', "The header names the column 'Name' more than once.")]);
  });

  it('fails a file with an unterminated quote, naming the line where it opened', async () => {
    const csv = 'ean,name\n4006381333931,Pen\n96385074,"Ink\n5901234123457,Paper\n';
    const { job, report } = await failedImport(csv);
    const message = 'Unterminated quoted field: the quote opened on line 3 (row 2) is never closed.';
    expect(job.detail).toBe(`${message} No rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(report).toEqual([fileProblem(2, 'UNTERMINATED_QUOTE', message)]);
    expect(job.progress.rows_failed).toBeGreaterThanOrEqual(1);
  });

  it('names the line where an unterminated quote opened when blank lines come before it', async () => {
    const csv = 'ean,name\n4006381333931,Pen\n\n\n96385074,"Ink\n5901234123457,Paper\n';
    const { job } = await failedImport(csv);
    expect(job.detail).toContain('the quote opened on line 5 (row 2) is never closed.');
  });

  it('fails a file with a stray quote inside an unquoted field', async () => {
    const { job, fileEntry } = await failedImport('ean,name\n4006381333931,Pen\n96385074,In"k\n');
    expect(job.detail).toContain('Misplaced quote on line 3 (row 2)');
    expect(fileEntry).toMatchObject({ row: 2, code: 'INVALID_QUOTE' });
  });

  it('fails a file with invalid UTF-8 mid-file and still reports the rows before it', async () => {
    const csv = Buffer.concat([
      Buffer.from('ean,name\n4006381333931,Pen\n96385075,Ink\n5901234123457,Pap'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('er\n036000291452,Tissues\n'),
    ]);
    const { job, report } = await failedImport(csv, { on_error: 'skip' });
    const message =
      "The file is not valid UTF-8: byte 0xFF on line 4, column 18 (row 3, in column 'name'). " +
      "Save the file as UTF-8 (in Excel: 'CSV UTF-8'), or send encoding=windows-1252 if it was saved by Excel on Windows.";
    expect(job.detail).toBe(`${message} No rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(report).toEqual([
      { row: 2, ean: '96385075', field: 'ean', code: 'INVALID_CHECK_DIGIT', message: 'The EAN check digit is invalid.' },
      fileProblem(3, 'INVALID_UTF8', message),
    ]);
  });

  it('fails a Latin-1 file (not UTF-8) at the row of its first non-ASCII byte', async () => {
    const csv = Buffer.from('ean,name\n4006381333931,Pen\n96385074,Cr\xe8me\n', 'latin1');
    const { job, fileEntry } = await failedImport(csv);
    expect(job.detail).toContain('not valid UTF-8');
    expect(fileEntry).toEqual(
      fileProblem(
        2,
        'INVALID_UTF8',
        "The file is not valid UTF-8: byte 0xE8 on line 3, column 12 (row 2, in column 'name'). " +
          "Save the file as UTF-8 (in Excel: 'CSV UTF-8'), or send encoding=windows-1252 if it was saved by Excel on Windows.",
      ),
    );
  });

  it('fails a file holding NUL bytes as binary content', async () => {
    const csv = Buffer.concat([Buffer.from('ean,name\n4006381333931,Pen\n'), Buffer.alloc(64), Buffer.from('\n')]);
    const { job, fileEntry } = await failedImport(csv);
    const message = 'The file looks binary, not CSV text: a NUL byte on line 3 (row 2).';
    expect(job.detail).toBe(`${message} No rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(fileEntry).toEqual(fileProblem(2, 'BINARY_CONTENT', message));
  });

  it('fails a PNG image uploaded as CSV, reported at the header row', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
    const { job, report } = await failedImport(png);
    expect(job.detail).toMatch(/not valid UTF-8|binary/);
    expect(report).toHaveLength(1);
    expect(report[0]).toMatchObject({ row: 0, ean: null, field: null });
    expect(['INVALID_UTF8', 'BINARY_CONTENT']).toContain(report[0]!.code);
  });

  it('fails a file that starts with NUL bytes, reported at the header row', async () => {
    const { job, fileEntry } = await failedImport(Buffer.alloc(32));
    expect(job.detail).toContain('looks binary');
    expect(fileEntry).toMatchObject({ row: 0, code: 'BINARY_CONTENT' });
  });

  it('fails a file whose last character is cut short', async () => {
    const csv = Buffer.concat([Buffer.from('ean,name\n4006381333931,Cr'), Buffer.from([0xc3])]);
    const { job, fileEntry } = await failedImport(csv);
    expect(job.detail).toContain('not valid UTF-8');
    expect(fileEntry).toMatchObject({ row: 1, code: 'INVALID_UTF8' });
  });
});

describe('import upload problems', () => {
  it('answers 400 BAD_REQUEST to an empty body and creates no job', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, '');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'BAD_REQUEST',
      error: 'The uploaded file is empty.',
      detail: 'The uploaded file is empty.',
    });
    const jobs = await ctx.get(account.key, '/v1/jobs');
    expect(jobs.json()).toEqual({ data: [], next_cursor: null });
    const rows = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows.rowCount).toBe(0);
  });

  it.each([
    ['mode', { mode: 'merge' }],
    ['on_error', { on_error: 'ignore' }],
    ['dry_run', { dry_run: 'yes' }],
  ])("answers 400 BAD_REQUEST naming '%s' for an unknown value", async (name, query) => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n', query);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(response.json<{ error: string }>().error).toContain(`'${name}'`);
    const rows = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows.rowCount).toBe(0);
  });
});
