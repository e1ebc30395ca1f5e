import { describe, expect, it } from 'vitest';
import type { ImportMode } from '../../src/shared/jobs/import-options.js';
import { layoutFromHeader } from '../../src/workers/import/header.js';
import { RowReader, TEXT_LIMITS } from '../../src/workers/import/row-reader.js';

// The row reader accepts plainly valid rows on a fast path and runs the full product schema for
// anything else: both must give exactly the same result for every row.

const HEADER = ['ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url', 'color'];
const GOOD = ['4006381333931', 'Pen', 'Acme', 'Office', 'Blue ink', '1.50', 'eur', '10', 'https://example.com/pen.png', 'blue'];

/** Values to try in each column, valid or not, including the edges of every rule. */
const VARIANTS: Record<string, string[]> = {
  ean: ['4006381333931', ' 4006381333931 ', '96385074', '012345678905', '00012345600012', '4006381333932', '400638133393',
    '40063813339', 'abc', '', '  ', '4006381333931x', '٤٠٠٦٣٨١٣٣٣٩٣١'],
  name: ['Pen', ' Pen ', '', '   ', '\u00a0', 'x'.repeat(TEXT_LIMITS.name), 'x'.repeat(TEXT_LIMITS.name + 1), 'Ünïcødé ✓', 'A\u0000B', 'x\ud800'],
  brand: ['Acme', '', ' ', 'x'.repeat(TEXT_LIMITS.brand), 'x'.repeat(TEXT_LIMITS.brand + 1), '\u0000'],
  category: ['Office', '', 'x'.repeat(TEXT_LIMITS.category), 'x'.repeat(TEXT_LIMITS.category + 1)],
  description: ['Blue ink', '', 'line\nbreak', 'x'.repeat(TEXT_LIMITS.description), 'x'.repeat(TEXT_LIMITS.description + 1), 'a\udc00'],
  price: ['1.50', ' 2 ', '0', '0.0000', '1.23456', '-1', '1e3', '', '999999999999999.9999', '9999999999999999', '.5', '5.', 'NaN'],
  currency: ['eur', 'EUR', ' usd ', 'xyz', 'EURO', '', '€'],
  stock: ['10', ' 0 ', '', '-1', '1.5', '2147483647', '2147483648', '00000000001', '12345678901', 'ten'],
  image_url: ['https://example.com/pen.png', 'http://x', ' https://example.com/a b ', 'ftp://example.com/x', 'not a url', '', 'https://example.com/\u0000',
    `https://example.com/${'x'.repeat(2100)}`],
  color: ['blue', '', ' ', 'bl\u0000ue'],
};

function rowsToTry(): string[][] {
  const rows: string[][] = [GOOD];
  HEADER.forEach((column, index) => {
    for (const value of VARIANTS[column]!) rows.push(GOOD.map((cell, at) => (at === index ? value : cell)));
  });
  // Price without currency, currency without price, everything optional empty.
  rows.push(GOOD.map((cell, at) => (HEADER[at] === 'currency' ? '' : cell)));
  rows.push(GOOD.map((cell, at) => (HEADER[at] === 'price' ? '' : cell)));
  rows.push(GOOD.map((cell, at) => (at < 2 ? cell : '')));
  return rows;
}

describe('RowReader', () => {
  const settingsToTry = [{}, { mergedWithStored: true }];
  for (const mode of ['upsert', 'create', 'update'] as ImportMode[]) {
    for (const header of [HEADER, ['ean', 'name'], ['EAN', 'price', 'currency', 'stock'], ['ean', 'name', 'price']]) {
      if (mode !== 'update' && !header.includes('name')) continue;
      for (const settings of settingsToTry) {
        it(`gives the same result with and without the fast path (mode=${mode}, columns ${header.join(',')}, ${JSON.stringify(settings)})`, () => {
          const layout = layoutFromHeader(header, mode);
          const fast = new RowReader(layout, mode, settings);
          const full = new RowReader(layout, mode, { ...settings, fastPath: false });
          let accepted = 0;
          rowsToTry().forEach((cells, index) => {
            const record = header.map((column) => cells[HEADER.indexOf(column.toLowerCase())]!);
            const result = fast.read(record, index + 1);
            expect(result, JSON.stringify(record)).toEqual(full.read(record, index + 1));
            if (!Array.isArray(result)) accepted += 1;
          });
          expect(accepted).toBeGreaterThan(0);
        });
      }
    }
  }

  // A file without a currency column merged with stored products: the merge checks the stored currency.
  it('leaves a price without a currency column to the merge only when rows are merged with stored products', () => {
    const layout = layoutFromHeader(['ean', 'name', 'price'], 'upsert');
    const record = ['4006381333931', 'Pen', '1.50'];
    expect(new RowReader(layout, 'upsert').read(record, 1)).toEqual([
      { row: 1, ean: '4006381333931', field: 'currency', code: 'REQUIRED', message: 'The currency field is required when price is set.' },
    ]);
    expect(new RowReader(layout, 'upsert', { mergedWithStored: true }).read(record, 1)).toMatchObject({ price: '1.50', currency: null });
    const withCurrency = layoutFromHeader(['ean', 'name', 'price', 'currency'], 'upsert');
    expect(new RowReader(withCurrency, 'upsert', { mergedWithStored: true }).read([...record, ''], 1)).toMatchObject([
      { field: 'currency', code: 'REQUIRED' },
    ]);
  });
});
