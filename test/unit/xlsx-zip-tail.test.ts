import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { workbookRecords } from '../../src/workers/import/xlsx/workbook-records.js';
import { handWrittenWorkbook, zipOf } from '../support/xlsx.js';

// The members of a zip archive are all read from their local headers, before its central
// directory: what comes after the directory is never read, whatever its size.

const ROWS =
  '<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row>' +
  '<row><c t="inlineStr"><is><t>4006381333931</t></is></c><c t="inlineStr"><is><t>Pen</t></is></c></row>';
const WORKBOOK = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Products', rows: ROWS }] }));
const END_RECORD = 22;
const CHUNK = Buffer.alloc(64 << 10);

/** The workbook with `junk` zero bytes before its end record, in 64 KiB chunks; `read` counts what was taken. */
function withJunk(junk: number, read: { bytes: number }): Readable {
  async function* chunks() {
    const head = WORKBOOK.subarray(0, WORKBOOK.length - END_RECORD);
    read.bytes += head.length;
    yield head;
    for (let left = junk; left > 0; left -= CHUNK.length) {
      const chunk = left < CHUNK.length ? CHUNK.subarray(0, left) : CHUNK;
      read.bytes += chunk.length;
      yield chunk;
    }
    read.bytes += END_RECORD;
    yield WORKBOOK.subarray(WORKBOOK.length - END_RECORD);
  }
  return Readable.from(chunks(), { objectMode: false });
}

describe('an xlsx workbook with bytes before its end record', () => {
  it('is read from its members without reading the 96 MiB of zeros after its central directory', async () => {
    const read = { bytes: 0 };
    const records: string[][] = [];
    const started = Date.now();
    for await (const record of workbookRecords({ open: () => withJunk(96 << 20, read), maxUncompressedBytes: 1 << 20, maxRecordBytes: 1 << 20 })) {
      records.push(record);
    }
    expect(records).toEqual([['ean', 'name'], ['4006381333931', 'Pen']]);
    // Read twice (the sheet list, then the sheet): each time at most a few chunks past the directory.
    expect(read.bytes).toBeLessThan(8 << 20);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 20_000);

  it('stops reading when its signal is aborted, with the signal\'s reason', async () => {
    const controller = new AbortController();
    // A stored upload that stops arriving inside the archive: only the signal ends the read.
    const reading = (async () => {
      const source = new Readable({ read() {} });
      source.push(WORKBOOK.subarray(0, 200));
      for await (const _ of workbookRecords({ open: () => source, maxUncompressedBytes: 1 << 20, maxRecordBytes: 1 << 20, signal: controller.signal }));
    })();
    setTimeout(() => controller.abort(new Error('cancelled')), 50);
    await expect(reading).rejects.toThrow('cancelled');
  }, 5_000);
});
