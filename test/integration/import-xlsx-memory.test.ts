import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, reportOf } from '../support/csv.js';
import { spawnReadyWorker, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { handWrittenWorkbook, uploadWorkbook, withFiller, zipOf } from '../support/xlsx.js';

// A workbook of a few hundred kilobytes can inflate to one text of hundreds of megabytes. The
// worker, with the 128 MB heap `npm start` gives it, fails the import naming the problem and
// stays up (API.md §7: RECORD_TOO_LARGE, INVALID_XLSX).

let ctx: TestContext;
let worker: WorkerChild;
let stopWorker: (() => Promise<void>) | undefined;

beforeAll(async () => {
  // The service's default limits: IMPORT_MAX_RECORD_BYTES 1 MiB, 4 GiB inflated per workbook.
  ctx = await createTestContext({ workers: false });
  ({ worker, stop: stopWorker } = await spawnReadyWorker(ctx.env, 128));
}, 90_000);
afterAll(async () => {
  await stopWorker?.();
  await ctx?.close();
});

const FILL_BYTES = 200 << 20;
const HEADER = '<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row>';
const tooLong = 'it has a text, attribute or comment of more than 6291456 characters, longer than any cell may be (IMPORT_MAX_RECORD_BYTES)';

describe('an xlsx import of a workbook that inflates to one text of 200 MB', () => {
  it.each([
    ['an inline string', { rows: `${HEADER}<row><c t="inlineStr"><is><t>#</t></is></c></row>`, sharedStrings: undefined }, 'a',
      { row: 1, code: 'RECORD_TOO_LARGE', message: 'Row 1 is larger than the limit of 1048576 bytes (IMPORT_MAX_RECORD_BYTES).' }],
    ['a shared string', { rows: '<row><c t="s"><v>0</v></c></row>', sharedStrings: ['<si><t>#</t></si>'] }, 'a',
      { row: 0, code: 'RECORD_TOO_LARGE', message: "The workbook's shared string 0 is larger than the limit of 1048576 bytes (IMPORT_MAX_RECORD_BYTES): no row can hold it." }],
    ['an attribute', { rows: `${HEADER}<row><c t="inlineStr" x="#"><is><t>x</t></is></c></row>`, sharedStrings: undefined }, 'a',
      { row: 1, code: 'INVALID_XLSX', message: `The file is not a readable .xlsx workbook (${tooLong}).` }],
    ['space between rows', { rows: `${HEADER}#<row><c t="inlineStr"><is><t>x</t></is></c></row>`, sharedStrings: undefined }, ' ',
      { row: 1, code: 'INVALID_XLSX', message: `The file is not a readable .xlsx workbook (${tooLong}).` }],
  ])('fails with %s, and the worker with a 128 MB heap stays up', async (_label, book, filler, problem) => {
    const parts = handWrittenWorkbook({ sheets: [{ name: 'Products', rows: book.rows }], sharedStrings: book.sharedStrings });
    await expectFailedAndWorkerUp(zipOf(withFiller(parts, '#', filler, FILL_BYTES)), problem);
  }, 90_000);
});

// A few hundred kilobytes can also repeat one element by the million: in a list the first pass
// keeps (cell formats, sheets), or nested, each open tag kept by the XML parser. The worker fails
// the import with INVALID_XLSX at row 0 and stays up.
describe('an xlsx import of a workbook that repeats one element by the million', () => {
  /** `parts` with `filler` repeated `count` times before `before` in the part at `path`. */
  const repeated = (parts: ReturnType<typeof handWrittenWorkbook>, path: string, before: string, filler: string, count: number) =>
    withFiller(
      parts.map((part) => (part.path === path ? { ...part, content: part.content.toString().replace(before, `@${before}`) } : part)),
      '@',
      filler,
      filler.length * count,
    );
  const invalid = (detail: string) => ({ row: 0, code: 'INVALID_XLSX', message: `The file is not a readable .xlsx workbook (${detail}).` });
  const sheet = { name: 'Products', rows: HEADER };

  it.each([
    ['40M cell formats', () =>
      repeated(handWrittenWorkbook({ sheets: [sheet], styles: '<cellXfs></cellXfs>' }), 'xl/styles.xml', '</cellXfs>', '<xf/>', 40_000_000),
      invalid('xl/styles.xml has more than 65,536 cell formats, more than any spreadsheet program writes')],
    ['5M sheets', () =>
      repeated(handWrittenWorkbook({ sheets: [sheet] }), 'xl/workbook.xml', '</sheets>', '<sheet/>', 5_000_000),
      invalid('xl/workbook.xml has more than 4,096 sheets, more than any spreadsheet program writes')],
    ['5M nested elements', () =>
      repeated(handWrittenWorkbook({ sheets: [sheet] }), 'xl/worksheets/sheet1.xml', '</sheetData>', '<a>', 5_000_000),
      invalid('it nests elements more than 64 deep, deeper than any spreadsheet program writes')],
  ])('fails with %s, and the worker with a 128 MB heap stays up', async (_label, build, problem) => {
    await expectFailedAndWorkerUp(zipOf(build()), problem);
  }, 90_000);

  it('imports 5,000 rows under a header whose last cell is at XFD, and the worker stays up', async () => {
    const header = '<row r="1"><c r="A1" t="inlineStr"><is><t>ean</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="XFD1" t="inlineStr"><is><t>z</t></is></c></row>';
    const rows = Array.from({ length: 5_000 }, (_, i) => {
      const ean = ean13(i + 1);
      return `<row r="${i + 2}"><c r="A${i + 2}" t="inlineStr"><is><t>${ean}</t></is></c><c r="B${i + 2}" t="inlineStr"><is><t>P</t></is></c></row>`;
    });
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Products', rows: header + rows.join('') }] }));
    const { job } = await importOnWorker(workbook);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 5_000, rows_created: 5_000, rows_failed: 0 } });
    expect(worker.process.exitCode).toBeNull();
  }, 90_000);
});

/**
 * Uploads `workbook` (a few hundred kilobytes) and expects its import to fail with `problem` at
 * its row while the worker with a 128 MB heap stays up. Inflating 200 MB (the whole workbook is
 * measured before a row is read) takes seconds on a busy machine.
 */
async function expectFailedAndWorkerUp(workbook: Buffer, problem: Record<string, unknown>): Promise<void> {
  expect(workbook.length).toBeLessThan(400_000);
  const { key, job } = await importOnWorker(workbook);
  expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
  expect(await reportOf(ctx, key, job.id)).toEqual([{ ean: null, field: null, ...problem }]);
  expect(worker.process.exitCode).toBeNull();
}

/** Uploads `workbook` for a new account and waits for its import's end on the worker process; fails at once if the worker dies. */
async function importOnWorker(workbook: Buffer) {
  const account = await ctx.createAccount();
  const response = await uploadWorkbook(ctx, account.key, workbook);
  expect(response.statusCode).toBe(202);
  const died = worker.exited.then((how) => {
    throw new Error(`the worker died (${how}): ${worker.output()}`);
  });
  const job = await Promise.race([ctx.waitForJob(account.key, response.json<{ id: string }>().id, 60_000), died]);
  return { key: account.key, job };
}
