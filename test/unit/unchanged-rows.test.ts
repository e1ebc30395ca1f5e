import { describe, expect, it } from 'vitest';
import type { Chunk } from '../../src/workers/import/import-chunk.js';
import type { ValidRow } from '../../src/workers/import/row-reader.js';
import { dropStoredRows } from '../../src/workers/import/unchanged-rows.js';
import { reimportChunk } from '../support/import-chunks.js';

const product = (ean: string, name: string, price: string | null = '1.50'): ValidRow => ({
  ean, name, brand: null, category: null, description: null, price, currency: price ? 'EUR' : null,
  stock: 3, image_url: null, attributes: {},
});

const chunkOf = (rows: ValidRow[]): Chunk => reimportChunk('a', rows);

/** COPY output of stored products in the chunk's form: EAN, then the values, NULL as \N. */
const storedText = (rows: ValidRow[]): Buffer =>
  Buffer.from(rows.map((p) => `${p.ean}\t${p.name}\t\\N\t\\N\t\\N\t${p.price ?? '\\N'}\t${p.currency ?? '\\N'}\t3\t\\N\n`).join(''));

/** The chunk's rows left, as [row number, EAN] from its text, checked against its line starts. */
function rowsLeft(chunk: Chunk): string[][] {
  const lines = chunk.text.toString('latin1', 0, chunk.bytes).split('\n').slice(0, -1);
  let at = 0;
  lines.forEach((line, i) => {
    expect(chunk.starts![i]).toBe(at);
    at += line.length + 1;
  });
  expect(lines).toHaveLength(chunk.rows);
  return lines.map((line) => line.split('\t').slice(0, 2));
}

describe('dropStoredRows', () => {
  const file = [
    product('4000000000017', 'Same'),
    product('4000000000024', 'Renamed'),
    product('4000000000031', 'New'),
    product('4000000000048', 'Same', '1.5'),
    product('4000000000055', 'Same', null),
  ];
  const stored = [
    product('4000000000010', 'Not in the file'),
    product('4000000000017', 'Same'),
    product('4000000000024', 'Old name'),
    product('4000000000048', 'Same', '1.50'),
    product('4000000000050', 'Not in the file'),
    product('4000000000055', 'Same', null),
    product('4000000000062', 'Not in the file'),
  ];

  it('walks a chunk in EAN order beside its stored lines and keeps only rows that differ or are new', () => {
    const chunk = chunkOf(file);
    expect(chunk.ascending).toBe(true);
    expect(dropStoredRows(chunk, storedText(stored), 'ean')).toBe(2);
    expect(rowsLeft(chunk)).toEqual([['3', '4000000000024'], ['4', '4000000000031'], ['5', '4000000000048']]);
  });

  it('looks stored lines up by EAN when the chunk is not in EAN order', () => {
    const chunk = chunkOf([...file].reverse());
    expect(chunk.ascending).toBe(false);
    expect(dropStoredRows(chunk, storedText(stored), 'any')).toBe(2);
    expect(rowsLeft(chunk)).toEqual([['3', '4000000000048'], ['4', '4000000000031'], ['5', '4000000000024']]);
  });

  it('compares each row with the stored line in its place when they come one per row, NULLs for a new EAN', () => {
    const chunk = chunkOf([...file].reverse());
    const inRowOrder = [...file].reverse().map((row) => stored.find((p) => p.ean === row.ean) ?? null);
    const lines = inRowOrder.map((p) => (p ? storedText([p]).toString() : '\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n'));
    expect(dropStoredRows(chunk, Buffer.from(lines.join('')), 'rows')).toBe(2);
    expect(rowsLeft(chunk)).toEqual([['3', '4000000000048'], ['4', '4000000000031'], ['5', '4000000000024']]);
  });

  it('keeps every row when nothing is stored, and a row with attributes even when its values match', () => {
    const withAttributes = { ...product('4000000000017', 'Same'), attributes: { color: 'red' } };
    const chunk = chunkOf([withAttributes, product('4000000000024', 'Renamed')]);
    expect(dropStoredRows(chunk, storedText(stored), 'ean')).toBe(0);
    expect(rowsLeft(chunk)).toEqual([['2', '4000000000017'], ['3', '4000000000024']]);
    expect(dropStoredRows(chunk, Buffer.alloc(0), 'ean')).toBe(0);
    expect(chunk.rows).toBe(2);
  });

  it('tells a stored EAN from one that only begins with it', () => {
    const chunk = chunkOf([product('12345670', 'Short'), product('1234567000000', 'Long')]);
    const text = storedText([product('12345670', 'Short'), product('1234567000000', 'Other')]);
    expect(dropStoredRows(chunk, text, 'ean')).toBe(1);
    expect(rowsLeft(chunk)).toEqual([['3', '1234567000000']]);
  });
});
