import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { InputGuard, type InputProblem } from '../../src/workers/import/input-guard.js';

/** Feeds `chunks` through a guard one by one; returns what came out and the problem found. */
async function guard(chunks: Buffer[]): Promise<{ output: Buffer; problem: InputProblem | null }> {
  const input = new InputGuard();
  const received: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    input,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        received.push(chunk);
        done();
      },
    }),
  );
  return { output: Buffer.concat(received), problem: input.problem };
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, ...offsets: number[]): Buffer[] {
  const points = [0, ...offsets, bytes.length];
  return points.slice(1).map((end, index) => bytes.subarray(points[index], end));
}

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

const TEXT = bytes('ean,name,description\n4006381333931,Café crème,"Größe: 10 cm — ☕ 😀"\n96385074,Ærø,日本語\n');

describe('InputGuard on valid UTF-8', () => {
  it('passes a file through byte-identical in one chunk', async () => {
    const { output, problem } = await guard([TEXT]);
    expect(problem).toBeNull();
    expect(output.equals(TEXT)).toBe(true);
  });

  it('passes a file through byte-identical wherever the chunks are cut, also inside a multi-byte character', async () => {
    for (let at = 1; at < TEXT.length; at += 1) {
      const { output, problem } = await guard(cut(TEXT, at));
      expect(problem, `cut at ${at}`).toBeNull();
      expect(output.equals(TEXT), `cut at ${at}`).toBe(true);
    }
  });

  it('passes a file through byte-identical when every byte is its own chunk', async () => {
    const chunks = [...TEXT].map((byte) => Buffer.from([byte]));
    const { output, problem } = await guard(chunks);
    expect(problem).toBeNull();
    expect(output.equals(TEXT)).toBe(true);
  });

  it('keeps a four-byte character split over three chunks', async () => {
    const emoji = bytes('a,', '😀', '\n');
    const { output, problem } = await guard(cut(emoji, 3, 4));
    expect(problem).toBeNull();
    expect(output.toString('utf8')).toBe('a,😀\n');
  });

  it('passes a file without a final newline through unchanged', async () => {
    const text = bytes('ean,name\n1,é');
    const { output, problem } = await guard(cut(text, text.length - 1));
    expect(problem).toBeNull();
    expect(output.equals(text)).toBe(true);
  });

  it('passes a line far longer than one chunk through unchanged', async () => {
    const line = bytes('ean,name,description\n1,a,', 'é'.repeat(5 * 1024 * 1024), '\n2,b,c\n');
    const chunks = cut(line, ...Array.from({ length: 10 }, (_, index) => (index + 1) * (1 << 20) + 1));
    const { output, problem } = await guard(chunks);
    expect(problem).toBeNull();
    expect(output.equals(line)).toBe(true);
  });

  it('passes an empty input through as empty', async () => {
    const { output, problem } = await guard([]);
    expect(problem).toBeNull();
    expect(output.length).toBe(0);
  });
});

describe('InputGuard on invalid input', () => {
  it('stops at an invalid byte with its 1-based line and emits only the lines before it', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,a\n2,b', [0xff], 'c\n3,d\n')]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 3 });
    expect(output.toString('utf8')).toBe('ean,name\n1,a\n');
  });

  it('reports line 1 and emits nothing when the first line is invalid', async () => {
    const { output, problem } = await guard([bytes('ea', [0xc3, 0x28], 'n,name\n1,a\n')]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 1 });
    expect(output.length).toBe(0);
  });

  it('reports a NUL byte as binary content with its line', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,a', [0x00], 'b\n2,c\n')]);
    expect(problem).toMatchObject({ kind: 'binary', line: 2 });
    expect(output.toString('utf8')).toBe('ean,name\n');
  });

  it('calls content binary, at the first bad byte, when NUL bytes follow an invalid sequence (a PNG)', async () => {
    const { problem } = await guard([bytes('ean\n', [0xfe], '\n', [0x00], '\n')]);
    expect(problem).toMatchObject({ kind: 'binary', line: 2 });
  });

  it('rejects overlong encodings, surrogates and lone continuation bytes', async () => {
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
      const { output, problem } = await guard([bytes('ean,name\n1,', bad, '\n')]);
      expect(problem, JSON.stringify(bad)).toMatchObject({ kind: 'invalid_utf8', line: 2 });
      expect(output.toString('utf8')).toBe('ean,name\n');
    }
  });

  it('finds the line of a bad byte behind valid multi-byte characters on the same line', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,Café ☕', [0xe2, 0x28, 0xa1], '\n')]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 2 });
    expect(output.toString('utf8')).toBe('ean,name\n');
  });

  it('counts lines across earlier chunks', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,a\n'), bytes('2,b\n3,c\n'), bytes('4,', [0xff], '\n')]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 5 });
    expect(output.toString('utf8')).toBe('ean,name\n1,a\n2,b\n3,c\n');
  });

  it('emits only complete lines when the bad byte is in a later chunk than the start of its line', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,a\n2,be'), bytes('gin', [0xff], '\n3,c\n')]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 3 });
    expect(output.toString('utf8')).toBe('ean,name\n1,a\n');
  });

  it('treats a multi-byte character cut off at the end of the file as invalid', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,a\n2,'), bytes([0xe2, 0x98])]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 3 });
    expect(output.toString('utf8')).toBe('ean,name\n1,a\n');
  });

  it('treats a split character whose rest never comes as invalid at the right line', async () => {
    const { output, problem } = await guard([bytes('ean,name\n1,', [0xe2]), bytes('x\n2,b\n')]);
    expect(problem).toMatchObject({ kind: 'invalid_utf8', line: 2 });
    expect(output.toString('utf8')).toBe('ean,name\n');
  });

  it('emits nothing after the problem, even when later chunks are valid', async () => {
    const { output } = await guard([bytes('a\n', [0xff], '\n'), bytes('b\nc\n'), bytes('d\n')]);
    expect(output.toString('utf8')).toBe('a\n');
  });
});

describe('InputGuard: where the bad byte is', () => {
  it('gives the column (in characters) and the byte that starts the bad sequence, even when a chunk splits it', async () => {
    const file = bytes('ean,name\n96385074,Café Cr', [0xe8], 'me\n');
    for (const at of [0, 20, 24, 25, 26]) {
      const { problem } = await guard(at === 0 ? [file] : cut(file, at));
      expect(problem, `cut at ${at}`).toEqual({ kind: 'invalid_utf8', line: 2, column: 17, byte: 0xe8, before: '96385074,Café Cr' });
    }
  });

  // Windows-1252's “ ” – € ™ and Latin-1's ° ² µ are bytes 0x80–0xBF: in UTF-8 they continue a
  // character, and with no character before them to continue they are the bad byte themselves.
  it('names a stray continuation byte itself, not the character before it, wherever a chunk cuts the line', async () => {
    const cases: Array<[Buffer, Omit<InputProblem, 'kind' | 'line'>]> = [
      [bytes('ean,name\n4006381000048,ab ', [0x93], 'Q', [0x94], '\n'), { column: 18, byte: 0x93, before: '4006381000048,ab ' }],
      [bytes('ean,name\n4006381000048,', [0x93], 'Q', [0x94], '\n'), { column: 15, byte: 0x93, before: '4006381000048,' }],
      [bytes('ean,name\n4006381000048,Café', [0x80], '\n'), { column: 19, byte: 0x80, before: '4006381000048,Café' }],
      [bytes('ean,name\n4006381000048,☕', [0xbf, 0x80], '\n'), { column: 16, byte: 0xbf, before: '4006381000048,☕' }],
    ];
    for (const [file, where] of cases) {
      for (let at = 0; at < file.length; at += 1) {
        const { problem } = await guard(at === 0 ? [file] : cut(file, at));
        expect(problem, `${file.toString('latin1')} cut at ${at}`).toEqual({ kind: 'invalid_utf8', line: 2, ...where });
      }
    }
  });

  it('names the lead byte of a sequence whose continuation is out of its range (overlong, surrogate)', async () => {
    for (const bad of [[0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const file = bytes('ean,name\n1,ab', bad, '\n');
      for (let at = 0; at < file.length; at += 1) {
        const { problem } = await guard(at === 0 ? [file] : cut(file, at));
        expect(problem, `${JSON.stringify(bad)} cut at ${at}`).toEqual({ kind: 'invalid_utf8', line: 2, column: 5, byte: bad[0], before: '1,ab' });
      }
    }
  });

  it('names the lead byte of a character cut short at the end of the file', async () => {
    const { problem } = await guard(cut(bytes('ean,name\n1,ab', [0xe2, 0x82]), 12));
    expect(problem).toEqual({ kind: 'invalid_utf8', line: 2, column: 5, byte: 0xe2, before: '1,ab' });
  });
});
