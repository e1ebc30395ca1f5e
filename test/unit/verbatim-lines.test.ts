import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ImportMode } from '../../src/shared/jobs/import-options.js';
import { CsvRecordReader } from '../../src/workers/import/csv-records.js';
import { layoutFromHeader, PRODUCT_COLUMNS } from '../../src/workers/import/header.js';
import { validRowLine } from '../../src/workers/import/import-chunk.js';
import { RowReader, type ValidRow } from '../../src/workers/import/row-reader.js';
import { verbatimLines, writeVerbatimLine } from '../../src/workers/import/verbatim-lines.js';

// A CSV line whose cells are its values as they stand goes into a chunk as uploaded, its
// delimiters made tabs. Its bytes must be exactly those of the line joined from its values, and
// any cell the reader changes (trims, normalizes, empties, escapes) must keep the row off that path.

const HEADER = [...PRODUCT_COLUMNS];
const GOOD = ['4006381333931', 'Pen', 'Acme', 'Office', 'Blue ink', '1.50', 'EUR', '10', 'https://example.com/pen.png'];

/** Cells each column is tried with: the first of each is taken as it is; for the others, `as is` says. */
const VARIANTS: Record<string, Array<[cell: string, asIs: boolean]>> = {
  ean: [['96385074', true], ['012345678905', true], [' 4006381333931', false], ["'4006381333931", false]],
  name: [['Ünïcødé ✓ 東京', true], [' Pen ', true], ["'=SUM(A1)", false], ["'Pen", true], ['back\\slash', false],
    ['tab\there', false], ['carriage\rreturn', false]],
  brand: [['', false], [' ', true], ['a"b', true]],
  category: [['', false], ['x'.repeat(500), true]],
  description: [['', false], ['semi;colon', true], ['comma, here', true]],
  price: [['0', true], [' 2 ', false], ['0.0000', true], ['1,50', false], ['', false]],
  currency: [['eur', false], ['usd', false], ['USD', true]],
  stock: [['0', true], ['007', false], [' 5', false], ['2147483647', true], ['', false]],
  image_url: [['http://x', true], ['', false]],
};

interface Case {
  cells: string[];
  asIs: boolean;
}

function cases(header: string[]): Case[] {
  const rows: Case[] = [{ cells: GOOD.slice(0, header.length), asIs: true }];
  header.forEach((column, index) => {
    for (const [value, asIs] of VARIANTS[column]!) {
      // Without a price, a currency alone is still a valid row (and the other way round is not).
      rows.push({ cells: GOOD.slice(0, header.length).map((cell, at) => (at === index ? value : cell)), asIs });
    }
  });
  return rows;
}

/** The records of `text` with the line each was read from (undefined for a quoted one). */
async function recordsOf(text: string, delimiter: string): Promise<Array<{ record: string[]; line: string | undefined }>> {
  const reader = new CsvRecordReader({ delimiter, fromLine: 1, maxRecordBytes: 1 << 20 });
  const read: Array<{ record: string[]; line: string | undefined }> = [];
  for await (const batch of reader.batches(Readable.from([Buffer.from(text)]))) {
    batch.forEach((record, index) => read.push({ record, line: batch.lines?.[index] }));
  }
  return read;
}

const ACCOUNT = '0f8c2f1e-3c3a-4b7a-9d7e-0123456789ab';

/** The COPY line of a row read with its line, as a chunk gets it: for a first load (the account first) and a re-import (the row first). */
function copiedLines(product: ValidRow, row: number, header: string[], delimiter: string): [string, string] {
  const verbatim = verbatimLines(layoutFromHeader(header, 'upsert'), delimiter)!;
  const buffer = Buffer.alloc(1 << 16);
  const direct = writeVerbatimLine(buffer, 0, Buffer.from(`${ACCOUNT}\t`), product.line!, verbatim);
  const chunk = writeVerbatimLine(buffer, direct, row, product.line!, verbatim);
  return [buffer.toString('utf8', 0, direct), buffer.toString('utf8', direct, chunk)];
}

describe('rows copied as uploaded', () => {
  for (const delimiter of [',', ';', '\t']) {
    for (const count of [2, 5, 8, 9]) {
      const header = HEADER.slice(0, count);
      it(`give the COPY line joined from their values (delimiter ${JSON.stringify(delimiter)}, ${count} columns)`, async () => {
        const mode: ImportMode = 'upsert';
        const layout = layoutFromHeader(header, mode);
        const reader = new RowReader(layout, mode, { verbatim: verbatimLines(layout, delimiter) });
        const plain = new RowReader(layout, mode);
        // Only rows that are one plain line with this delimiter (no quote, no delimiter in a cell).
        const tried = cases(header).filter(({ cells }) => cells.every((cell) => !cell.includes(delimiter) && !cell.includes('"')));
        const text = [header, ...tried.map(({ cells }) => cells)].map((cells) => cells.join(delimiter)).join('\n');
        const read = await recordsOf(text, delimiter);
        expect(read.map(({ record }) => record)).toEqual([header, ...tried.map(({ cells }) => cells)]);
        let copied = 0;
        tried.forEach(({ cells, asIs }, index) => {
          const { record, line } = read[index + 1]!;
          const product = reader.read(record, index + 1, line);
          const reference = plain.read(record, index + 1);
          expect(Array.isArray(product), cells.join('|')).toBe(Array.isArray(reference));
          if (Array.isArray(product) || Array.isArray(reference)) return;
          expect(product.line ?? null, cells.join('|')).toBe(asIs ? line : null);
          if (!product.line) return;
          copied += 1;
          expect(copiedLines(product, index + 1, header, delimiter)).toEqual([
            validRowLine(ACCOUNT, reference),
            validRowLine(index + 1, reference),
          ]);
        });
        expect(copied).toBeGreaterThan(3);
      });
    }
  }

  it('are only those of a file with the product columns in their order, and no others', () => {
    const layout = (header: string[]) => layoutFromHeader(header, 'update');
    expect(verbatimLines(layout(['ean', 'name', 'brand']), ',')?.suffix.toString()).toBe('\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t{}\n');
    expect(verbatimLines(layout(HEADER), ',')?.suffix.toString()).toBe('\t{}\n');
    expect(verbatimLines(layout(['name', 'ean']), ',')).toBeNull();
    expect(verbatimLines(layout(['ean', 'brand']), ',')).toBeNull();
    expect(verbatimLines(layout(['ean', 'name', 'color']), ',')).toBeNull();
    expect(verbatimLines(layout(['ean', 'name', 'attributes']), ',')).toBeNull();
    expect(verbatimLines(layout(['ean', 'name']), '§')).toBeNull();
  });

  it('keep a price written with a decimal comma off the path, and take one without a comma', async () => {
    const layout = layoutFromHeader(['ean', 'name', 'brand', 'category', 'description', 'price', 'currency'], 'upsert');
    const reader = new RowReader(layout, 'upsert', { verbatim: verbatimLines(layout, ';'), decimalComma: true });
    const read = await recordsOf('ean;name;brand;category;description;price;currency\n4006381333931;Pen;A;B;C;1,50;EUR\n96385074;Cap;A;B;C;2;EUR\n', ';');
    const [comma, whole] = [1, 2].map((row) => reader.read(read[row]!.record, row, read[row]!.line) as ValidRow) as [ValidRow, ValidRow];
    expect([comma.price, comma.line]).toEqual(['1.50', null]);
    expect([whole.price, whole.line]).toEqual(['2', '96385074;Cap;A;B;C;2;EUR']);
  });

  it('are read only from a line without quotes', async () => {
    const read = await recordsOf('ean,name\n4006381333931,Pen\n4006381333931,"Pen"\r\n96385074,Cap\r\n', ',');
    expect(read.map(({ line }) => line)).toEqual(['ean,name', '4006381333931,Pen', undefined, '96385074,Cap']);
  });
});
