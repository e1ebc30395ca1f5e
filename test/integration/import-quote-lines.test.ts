import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The line a quote or record-size problem names is the line an editor shows: a line feed ends a
// line (CRLF is one line end, as the INVALID_UTF8 message counts them), also inside a quoted cell
// that holds line breaks (API.md §4 "Import rules").

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { IMPORT_MAX_RECORD_BYTES: '2048' } });
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const HEADER = 'ean,name,price,currency';

/** The message of the file-level problem that ends the report of `csv`, imported with on_error=skip. */
async function fileProblemOf(csv: string | Buffer, query: Record<string, string> = {}): Promise<string> {
  const account = await ctx.createAccount();
  const job = await ctx.importCsv(account.key, csv, { on_error: 'skip', ...query });
  expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
  const report = await reportOf(ctx, account.key, job.id);
  return report.at(-1)!.message;
}

/** `lines` ended by `end` each. */
const file = (lines: string[], end = '\r\n') => lines.map((line) => line + end).join('');

describe('lines named by quote problems in files with line breaks inside cells', () => {
  it('names the line of a misplaced quote after a cell holding a CRLF', async () => {
    const csv = file([HEADER, '4006381333931,"Multi', 'line",1.50,EUR', '4006381333948,ok"bad,1,EUR']);
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 4 \(row 2\)/);
  });

  it('counts each CRLF inside a cell as one line end', async () => {
    const csv = file([HEADER, '4006381333931,"One', 'two', 'three', 'four",1.50,EUR', '4006381333948,ok"bad,1,EUR']);
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 6 \(row 2\)/);
  });

  it('names the line of a misplaced quote after several multi-line cells in several rows', async () => {
    const csv = file([
      HEADER,
      '4006381333931,"A\r\nB","1.50",EUR',
      '"4006381333948","C',
      'D',
      'E",2,EUR',
      '',
      '5901234123457,"F',
      'G",3,EUR',
      '96385074,In"k,4,EUR',
    ]);
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 10 \(row 4\)/);
  });

  it('names the line where an unclosed quote opened after a cell holding a CRLF', async () => {
    const csv = file([HEADER, '4006381333931,"Multi', 'line",1.50,EUR', '4006381333948,"open,1,EUR', '5901234123457,Paper,2,EUR']);
    expect(await fileProblemOf(csv)).toBe('Unterminated quoted field: the quote opened on line 4 (row 2) is never closed.');
  });

  it('names the line of a closing quote followed by text, after a cell holding a CRLF', async () => {
    const csv = file([HEADER, '4006381333931,"Multi', 'line",1.50,EUR', '4006381333948,"two', 'lines"x,1,EUR']);
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 5 \(row 2\)/);
  });

  it('counts lines in an LF file whose cell holds a CRLF', async () => {
    const csv = file([HEADER, '4006381333931,"Multi\r\nline",1.50,EUR', '4006381333948,ok"bad,1,EUR'], '\n');
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 4 \(row 2\)/);
  });

  it('counts a carriage return alone inside a cell as no line end', async () => {
    const csv = file([HEADER, '4006381333931,"Multi\rline",1.50,EUR', '4006381333948,ok"bad,1,EUR'], '\n');
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 3 \(row 2\)/);
  });

  it('counts lines the same in a file that starts with a byte-order mark and a sep= line', async () => {
    const csv = `\uFEFFsep=,\r\n${file([HEADER, '4006381333931,"Multi', 'line",1.50,EUR', '4006381333948,ok"bad,1,EUR'])}`;
    expect(await fileProblemOf(csv)).toMatch(/^Misplaced quote on line 5 \(row 2\)/);
  });

  it.each(['windows-1252', 'utf-16le'] as const)('counts lines in a %s file the same as in its UTF-8 text', async (encoding) => {
    const text = file([HEADER, '4006381333931,"Crème', 'brûlée – “süß”",1.50,EUR', '4006381333948,"offen,1,EUR']);
    const csv = Buffer.concat([encoding === 'utf-16le' ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), iconv.encode(text, encoding)]);
    expect(await fileProblemOf(csv, { encoding })).toBe('Unterminated quoted field: the quote opened on line 4 (row 2) is never closed.');
    const misplaced = iconv.encode(file([HEADER, '4006381333931,"Crème', 'brûlée",1.50,EUR', '4006381333948,ok"bad,1,EUR']), encoding);
    expect(await fileProblemOf(misplaced, { encoding })).toMatch(/^Misplaced quote on line 4 \(row 2\)/);
  });

  it('names the line of a record over the size limit after a cell holding a CRLF', async () => {
    const csv = file([HEADER, '4006381333931,"Multi', 'line",1.50,EUR', `4006381333948,${'x'.repeat(3000)},1,EUR`]);
    expect(await fileProblemOf(csv)).toMatch(/^The record on line 4 \(row 2\) is larger than the limit of 2048 bytes/);
  });
});
