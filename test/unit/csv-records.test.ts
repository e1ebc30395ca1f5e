import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { describe, expect, it } from 'vitest';
import { CsvRecordReader } from '../../src/workers/import/csv-records.js';
import { csvParseOptions, type CsvReadSettings } from '../../src/workers/import/csv-text.js';

// The import reads CSV with its own line scanner and hands anything unusual to csv-parse: the
// records (and any error) must be exactly csv-parse's, however the bytes are cut into pieces.

interface Outcome {
  records: string[][];
  error: string | null;
}

/** What csv-parse reads of the whole file: every record it finds (taken as found), then its error. */
async function withCsvParse(bytes: Buffer, settings: CsvReadSettings): Promise<Outcome> {
  const records: string[][] = [];
  const parser = parse({
    ...csvParseOptions(settings, false),
    on_record: (record: string[]) => {
      records.push(record);
      return null;
    },
  });
  try {
    await pipeline(Readable.from([bytes]), parser);
    return { records, error: null };
  } catch (error) {
    return { records, error: (error as { code: string }).code };
  }
}

async function withReader(pieces: Buffer[], settings: CsvReadSettings): Promise<Outcome & { handedOver: boolean }> {
  const reader = new CsvRecordReader(settings);
  const records: string[][] = [];
  let error: string | null = null;
  try {
    for await (const batch of reader.batches(Readable.from(pieces))) records.push(...batch);
  } catch (caught) {
    error = (caught as { code: string }).code;
  }
  return { records, error, handedOver: reader.handedOver };
}

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `bytes` at random places (a UTF-8 character may be cut in two, as pieces of a file are). */
function cut(bytes: Buffer, next: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = 1 + Math.floor(next() * (next() < 0.5 ? 4 : 64));
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

const TOKENS = ['a', 'bc', 'é', '€', '😀', ' ', '"', '""', ',', ';', '\t', '\n', '\r\n', '\r', 'x"y', '"q,"', '"l\nm"', '"', ',,'];
/** Whole lines of the usual shapes, so the generated files have long stretches of plain rows too. */
const LINES = ['ean,name,price\n', '4006381333931,Pen,1.50\r\n', '"5901234123457","Shirt, blue",2\n', 'x;y;z\n', '\n', '\r\n'];

function generated(next: () => number): { text: string; settings: CsvReadSettings } {
  const parts: string[] = [];
  const withSepLine = next() < 0.15;
  if (next() < 0.15) parts.push('\uFEFF');
  if (withSepLine) parts.push(next() < 0.5 ? 'sep=;\n' : 'sep=;\r\n');
  const count = Math.floor(next() * 40);
  for (let i = 0; i < count; i += 1) {
    const from = next() < 0.5 ? LINES : TOKENS;
    parts.push(from[Math.floor(next() * from.length)]!);
  }
  const delimiter = withSepLine ? ';' : [',', ';', '\t'][Math.floor(next() * 3)]!;
  const maxRecordBytes = next() < 0.2 ? 8 + Math.floor(next() * 30) : 1 << 20;
  return { text: parts.join(''), settings: { delimiter, fromLine: withSepLine ? 2 : 1, maxRecordBytes } };
}

describe('the CSV record reader', () => {
  it('gives csv-parse’s records and errors for 3,000 generated files, whatever the pieces', async () => {
    let handedOver = 0;
    for (let seed = 1; seed <= 3_000; seed += 1) {
      const next = random(seed);
      const { text, settings } = generated(next);
      const bytes = Buffer.from(text);
      const expected = await withCsvParse(bytes, settings);
      const actual = await withReader(cut(bytes, next), settings);
      if (actual.handedOver) handedOver += 1;
      expect({ seed, ...actual, handedOver: undefined }, JSON.stringify({ text, settings })).toEqual({ seed, ...expected, handedOver: undefined });
    }
    // Both ways of reading were exercised: the line scanner alone, and csv-parse taking over.
    expect(handedOver).toBeGreaterThan(300);
    expect(handedOver).toBeLessThan(2_700);
  });

  it.each([
    ['plain lines, CRLF and LF, empty lines skipped', 'a,b\r\n\r\n\nc,d\n', ['a', 'b'], ['c', 'd']],
    ['a quoted field with a delimiter, a doubled quote and a line break', '"x, ""y""\r\nz",2\n', ['x, "y"\r\nz', '2']],
    ['a carriage return inside a line is text', 'a\rb,c\n', ['a\rb', 'c']],
    ['the last line without a line end keeps its carriage return', 'a,b\nc,d\r', ['a', 'b'], ['c', 'd\r']],
    ['a byte-order mark is dropped', '\uFEFFean,name\n', ['ean', 'name']],
  ])('reads %s', async (_name, text, ...records) => {
    const settings = { delimiter: ',', fromLine: 1, maxRecordBytes: 1 << 20 };
    const actual = await withReader([Buffer.from(text)], settings);
    expect(actual).toEqual({ records, error: null, handedOver: false });
  });

  it('hands a misplaced quote to csv-parse, which fails the file as before', async () => {
    const text = 'ean,name\n1,ok\n2,bad"quote\n3,never read\n';
    const actual = await withReader([Buffer.from(text)], { delimiter: ',', fromLine: 1, maxRecordBytes: 1 << 20 });
    expect(actual).toEqual({ records: [['ean', 'name'], ['1', 'ok']], error: 'INVALID_OPENING_QUOTE', handedOver: true });
  });

  it('reads a file of 100,000 rows cut into 32 KiB pieces as csv-parse does', async () => {
    const lines = ['ean,name,brand,price'];
    for (let i = 0; i < 100_000; i += 1) lines.push(i % 97 === 0 ? `${i},"Name, ${i}","Brand ""${i % 7}""",${i}.5` : `${i},Name ${i},Brand ${i % 7},${i}.5`);
    const bytes = Buffer.from(lines.join('\r\n'));
    const pieces: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 32_768) pieces.push(bytes.subarray(at, at + 32_768));
    const settings = { delimiter: ',', fromLine: 1, maxRecordBytes: 1 << 20 };
    const actual = await withReader(pieces, settings);
    expect(actual.handedOver).toBe(false);
    expect(actual.records).toEqual((await withCsvParse(bytes, settings)).records);
    expect(actual.records).toHaveLength(100_001);
  });

  it('reads a file given as one piece of over 1 MiB, with characters of 2 to 4 bytes throughout, as csv-parse does', async () => {
    // The reader decodes at most 32 KiB at a time: its cuts fall inside characters and quoted fields.
    const lines = ['ean;name;brand'];
    for (let i = 0; i < 40_000; i += 1) lines.push(i % 13 === 0 ? `${i};"Café ""€${i}""\n😀";Brand é${i % 7}` : `${i};Ürün €${i} 😀;Marke ${i % 7}`);
    const bytes = Buffer.from(lines.join('\n'));
    expect(bytes.length).toBeGreaterThan(1 << 20);
    const settings = { delimiter: ';', fromLine: 1, maxRecordBytes: 1 << 20 };
    const actual = await withReader([bytes], settings);
    expect(actual.handedOver).toBe(false);
    expect(actual.records).toEqual((await withCsvParse(bytes, settings)).records);
    expect(actual.records).toHaveLength(40_001);
    expect(actual.records[13]).toEqual(['12', 'Ürün €12 😀', 'Marke 5']);
  });
});
