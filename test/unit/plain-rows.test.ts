import { describe, expect, it } from 'vitest';
import type { ImportMode } from '../../src/shared/jobs/import-options.js';
import { splitLine } from '../../src/workers/import/csv-text.js';
import { layoutFromHeader, PRODUCT_COLUMNS } from '../../src/workers/import/header.js';
import { PlainRows } from '../../src/workers/import/plain-rows.js';
import { RowReader, TEXT_LIMITS, type ValidRow } from '../../src/workers/import/row-reader.js';
import { verbatimLines } from '../../src/workers/import/verbatim-lines.js';
import { mulberry32, productLine } from '../../bench/generate-csv.js';

// The fast lane takes a quote-free line without cutting it into cells. Every line it takes must be
// one the row reader accepts with its line (copied into the chunk as uploaded), with the same
// EAN; every other line goes the usual way. It must also take the common row.

const GOOD = ['4006381333931', 'Pen', 'Acme', 'Office', 'Blue ink', '1.50', 'EUR', '10', 'https://example.com/pen.png'];

/** Cells to try in each column, valid or not, at the edges of every rule. */
const VARIANTS: string[][] = [
  ['96385074', '012345678905', '00012345600012', '4006381333932', '400638133393', ' 4006381333931', "'4006381333931", '4006381333931 ',
    '40063813339:1', '4006381/33931', '', 'abc'],
  ['P', ' Pen', 'Pen ', '   ', "'=SUM(A1)", "'Pen", 'Ünïcødé', '\u00a0Pen', 'x'.repeat(TEXT_LIMITS.name), 'x'.repeat(TEXT_LIMITS.name + 1), '', '~'],
  ['', ' ', "'x", 'x'.repeat(TEXT_LIMITS.brand), 'x'.repeat(TEXT_LIMITS.brand + 1), 'back\\slash', 'tab\there', 'cr\rhere'],
  ['', 'x'.repeat(TEXT_LIMITS.category), 'x'.repeat(TEXT_LIMITS.category + 1), "'=1"],
  ['', 'x'.repeat(TEXT_LIMITS.description), 'x'.repeat(TEXT_LIMITS.description + 1), 'a;b'],
  ['0', '0.0000', '1.23456', '1.', '.5', '-1', '1e3', ' 2', '2 ', '999999999999999.9999', '9999999999999999', '1,50', '', '1..2', '١'],
  ['eur', 'EUR', 'USD', 'XYZ', 'EURO', ' EUR', '', '€'],
  ['0', '00', '007', '2147483647', '2147483648', '99999999999', '-1', '1.5', ' 5', '', 'x'],
  ['http://x', 'https://example.com/a b', ' https://example.com/', 'ftp://example.com/x', 'not a url', '', `https://example.com/${'x'.repeat(2100)}`],
];

function linesToTry(columns: number, delimiter: string): string[] {
  const rows: string[][] = [GOOD.slice(0, columns)];
  for (let column = 0; column < columns; column += 1) {
    for (const value of VARIANTS[column]!) rows.push(GOOD.slice(0, columns).map((cell, at) => (at === column ? value : cell)));
  }
  // Too few and too many cells.
  rows.push(GOOD.slice(0, columns - 1), [...GOOD.slice(0, columns), 'more']);
  return rows.filter((cells) => cells.every((cell) => !cell.includes(delimiter) && !/["\n]/.test(cell))).map((cells) => cells.join(delimiter));
}

describe('the fast lane for quote-free lines', () => {
  for (const mode of ['upsert', 'update'] as ImportMode[]) {
    for (const delimiter of [',', ';', '\t']) {
      for (const columns of [1, 2, 5, 6, 7, 8, 9]) {
        if (columns === 1 && mode !== 'update') continue;
        it(`takes only rows the row reader copies as uploaded (mode=${mode}, ${JSON.stringify(delimiter)}, ${columns} columns)`, () => {
          const layout = layoutFromHeader(PRODUCT_COLUMNS.slice(0, columns), mode);
          const verbatim = verbatimLines(layout, delimiter)!;
          const plain = new PlainRows(layout, mode, verbatim);
          const reader = new RowReader(layout, mode, { verbatim });
          let taken = 0;
          linesToTry(columns, delimiter).forEach((line, index) => {
            const ean = plain.ean(line);
            if (ean === null) return;
            taken += 1;
            const read = reader.read(splitLine(line, 0, line.length, delimiter), index + 1, line) as ValidRow;
            expect(Array.isArray(read), line).toBe(false);
            expect([read.ean, read.line], line).toEqual([ean, line]);
          });
          expect(taken).toBeGreaterThan(columns === 6 ? -1 : 1);
        });
      }
    }
  }

  it("takes the common row: all but the benchmark file's quoted and seldom rows", () => {
    const layout = layoutFromHeader(PRODUCT_COLUMNS.slice(0, 8), 'upsert');
    const plain = new PlainRows(layout, 'upsert', verbatimLines(layout, ',')!);
    const random = mulberry32(7);
    let quoteFree = 0;
    let taken = 0;
    for (let index = 0; index < 2_000; index += 1) {
      const line = productLine(index, random, { order: 'file' }).slice(0, -1);
      if (line.includes('"')) continue;
      quoteFree += 1;
      if (plain.ean(line) === line.slice(0, 13)) taken += 1;
    }
    expect(taken).toBe(quoteFree);
  });
});
