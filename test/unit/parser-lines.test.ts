import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { describe, expect, it } from 'vitest';
import { csvParseOptions } from '../../src/workers/import/csv-text.js';
import { fileLineOf } from '../../src/workers/import/parser-lines.js';

// csv-parse counts a CRLF inside a quoted cell as two lines and a lone CR as one; a problem's line
// is the file's line as an editor shows it (a LF ends one). These tests hold the translation to
// csv-parse itself, so a csv-parse that counts otherwise fails them.

const SETTINGS = { delimiter: ',', fromLine: 1, maxRecordBytes: 1_000_000 };

/** A seeded generator, so a failure can be replayed. */
function numbers(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const FIELDS = ['a', 'bc', '', 'x\ry', '"p\r\nq"', '"p\nq"', '"p\rq"', '"a""b"', '"\r\n\r\n"', '""', '"\r"'];

/** A CSV text of `count` records and, for each, the file line it ends on (blank lines between some). */
function sample(seed: number, count: number): { text: string; endLines: number[] } {
  const next = numbers(seed);
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;
  let text = '';
  const endLines: number[] = [];
  for (let record = 0; record < count; record += 1) {
    const fields = [pick(FIELDS.filter((field) => field !== '')), pick(FIELDS), pick(FIELDS)];
    text += fields.join(',');
    endLines.push(text.split('\n').length);
    text += pick(['\n', '\r\n']);
    if (next() < 0.2) text += pick(['\n', '\r\n']);
  }
  return { text, endLines };
}

/** `text` in pieces of 1 to 16 bytes, as a stream hands them over. */
function inPieces(text: string, seed: number): Buffer[] {
  const bytes = Buffer.from(text);
  const next = numbers(seed);
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(next() * 16);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** csv-parse's line of each record it reads from `text`, and its error's line, if any. */
async function parserLines(text: string, seed: number): Promise<{ records: number[]; errorLine: number | null }> {
  const records: number[] = [];
  const parser = parse(csvParseOptions(SETTINGS, true));
  parser.on('data', (entry: { info: { lines: number } }) => records.push(entry.info.lines));
  try {
    await pipeline(Readable.from(inPieces(text, seed)), parser);
    return { records, errorLine: null };
  } catch (error) {
    return { records, errorLine: (error as { lines: number }).lines };
  }
}

const fileLine = (text: string, parserLine: number, nextRecord = false) =>
  fileLineOf(Readable.from(inPieces(text, parserLine)), parserLine, nextRecord);

describe('file lines of csv-parse line numbers', () => {
  it.each([1, 2, 3, 4, 5])('gives the line each record ends on, whatever its cells hold (seed %i)', async (seed) => {
    const { text, endLines } = sample(seed, 60);
    const parsed = await parserLines(text, seed);
    expect(parsed.records).toHaveLength(endLines.length);
    const lines = await Promise.all(parsed.records.map((line) => fileLine(text, line)));
    expect(lines).toEqual(endLines);
  });

  it.each([
    ['a quote inside a plain cell', '9,ok"bad,1\r\n', '"'],
    ['text after a closing quote', '9,"two\r\nlines"x,1\r\n', 'x'],
  ])('gives the line of %s after cells holding line breaks', async (_label, bad, at) => {
    const { text } = sample(7, 30);
    const parsed = await parserLines(text + bad, 7);
    expect(parsed.errorLine).not.toBeNull();
    const lineOfBadByte = (text + bad.slice(0, bad.indexOf(at))).split('\n').length;
    expect(await fileLine(text + bad, parsed.errorLine!)).toBe(lineOfBadByte);
  });

  it('finds the first line holding more than blanks after the line a record ends on', async () => {
    const text = 'ean,name\r\n1,"a\r\nb"\r\n\r\n\n2,"open\r\n3,c\r\n';
    const parsed = await parserLines(text, 1);
    expect(parsed.records.at(-1)).toBe(4);
    expect(await fileLine(text, parsed.records.at(-1)!, true)).toBe(6);
    expect(await fileLine(text, 0, true)).toBe(1);
  });
});
