import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOptionsSchema } from '../../src/shared/jobs/import-options.js';
import { UploadStore } from '../../src/shared/upload-store.js';
import { storedUploadRecords } from '../../src/workers/import/stored-records.js';
import { excelWorkbook } from '../support/xlsx.js';

/**
 * rows.csv reads a stored upload again: a file-level problem ends its records where the import
 * stopped, but a storage that fails mid-read must break the download off, not end it as if the
 * file ended there (a short rows.csv that looks whole).
 */
const LIMITS = { maxRecordBytes: 1 << 20, maxXlsxUncompressedBytes: 1 << 30 };
const ROWS = 20_000;

/** A local store whose reads fail with EIO after `failAfter` bytes once `failing` is set. */
class FailingReads extends UploadStore {
  failing = false;
  constructor(dataDir: string, private readonly failAfter: number) {
    super(dataDir);
  }
  override open(path: string): Readable {
    const stream = super.open(path);
    if (!this.failing) return stream;
    let read = 0;
    const failAfter = this.failAfter;
    return Readable.from((async function* () {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        read += chunk.length;
        if (read > failAfter) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        yield chunk;
      }
    })());
  }
}

let dataDir: string;
let store: FailingReads;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'stored-records-'));
  store = new FailingReads(dataDir, 64 * 1024);
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function stored(content: Buffer): Promise<string> {
  store.failing = false;
  return (await store.save(Readable.from([content]), 1 << 30)).path;
}

async function readAll(path: string, options: Record<string, unknown> = {}): Promise<number> {
  const { records } = await storedUploadRecords(store, path, importOptionsSchema.parse({ mode: 'upsert', on_error: 'abort', delimiter: null, dry_run: false, ...options }), LIMITS);
  let count = 0;
  for await (const record of records) count += record.length > 0 ? 1 : 0;
  return count;
}

const csv = Buffer.from(['ean,name', ...Array.from({ length: ROWS }, (_, n) => `${4006381000000 + n},Product ${n}`)].join('\n'));

/** How many of this process's file descriptors are open on `path`. */
async function openDescriptors(path: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === path) count += 1;
  }
  return count;
}

describe('reading a stored upload again', () => {
  it('closes the file when its reader leaves early, as a client that drops rows.csv makes it', async () => {
    const path = await stored(csv);
    for (let n = 0; n < 5; n += 1) {
      const { records } = await storedUploadRecords(store, path, importOptionsSchema.parse({ mode: 'upsert', on_error: 'abort', delimiter: null, dry_run: false }), LIMITS);
      for await (const record of records) if (record[0] === '4006381000010') break;
    }
    // The streams close as their destruction settles, a turn or two after the loops left.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await openDescriptors(join(store.root, path))).toBe(0);
  });

  it('reads every record of a CSV file, and ends quietly at an unterminated quote as the import did', async () => {
    expect(await readAll(await stored(csv))).toBe(ROWS + 1);
    expect(await readAll(await stored(Buffer.from('ean,name\n1,"open\n2,b\n')))).toBe(1);
  });

  it('rejects when the storage fails in the middle of a CSV file', async () => {
    const path = await stored(csv);
    store.failing = true;
    await expect(readAll(path)).rejects.toMatchObject({ code: 'EIO' });
  });

  it('rejects when the storage fails in the middle of a workbook', async () => {
    const workbook = await excelWorkbook((book) => {
      const sheet = book.addWorksheet('Products');
      sheet.addRow(['ean', 'name']);
      // Random names, so the sheet stays larger than the point where the reads fail once zipped.
      for (let n = 0; n < ROWS; n += 1) sheet.addRow([`${4006381000000 + n}`, Math.random().toString(36)]);
    });
    expect(workbook.length).toBeGreaterThan(128 * 1024);
    const path = await stored(workbook);
    expect(await readAll(path, { format: 'xlsx' })).toBe(ROWS + 1);
    store.failing = true;
    await expect(readAll(path, { format: 'xlsx' })).rejects.toMatchObject({ code: 'EIO' });
  });
});
