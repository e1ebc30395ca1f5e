import { describe, expect, it } from 'vitest';
import { copyLine, copyValue } from '../../src/workers/import/copy-writer.js';
import { validRowLine } from '../../src/workers/import/import-chunk.js';
import { writeSeenLine } from '../../src/workers/import/seen-log.js';

/** Reverses PostgreSQL's COPY text escapes, as the server reads a field (the subset copyValue emits). */
function readCopyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, char: string) => ({ t: '\t', n: '\n', r: '\r' })[char] ?? char);
}

describe('copyValue', () => {
  it('writes null as \\N', () => {
    expect(copyValue(null)).toBe('\\N');
  });

  it('writes numbers in their plain decimal form', () => {
    expect(copyValue(0)).toBe('0');
    expect(copyValue(42)).toBe('42');
    expect(copyValue(1.5)).toBe('1.5');
  });

  it('keeps plain text, the empty string and non-ASCII text as they are', () => {
    expect(copyValue('Blue pen')).toBe('Blue pen');
    expect(copyValue('')).toBe('');
    expect(copyValue('Café ☕ "quoted", semi;colon')).toBe('Café ☕ "quoted", semi;colon');
  });

  it('escapes backslash, tab, newline and carriage return', () => {
    expect(copyValue('a\\b')).toBe('a\\\\b');
    expect(copyValue('a\tb')).toBe('a\\tb');
    expect(copyValue('a\nb')).toBe('a\\nb');
    expect(copyValue('a\rb')).toBe('a\\rb');
    expect(copyValue('\r\n\t\\')).toBe('\\r\\n\\t\\\\');
  });

  it('keeps the text \\N distinct from null', () => {
    expect(copyValue('\\N')).toBe('\\\\N');
    expect(copyValue('\\N')).not.toBe(copyValue(null));
  });

  it('never leaves a raw field or row separator in the output', () => {
    for (const value of ['x\ty', 'line1\nline2', 'cr\r', '\t\t\n\n', 'ends with \\']) {
      expect(copyValue(value), JSON.stringify(value)).not.toMatch(/[\t\n\r]/);
    }
  });

  it('round-trips every string through COPY text unescaping', () => {
    const values = ['plain', '', '\\', '\\\\N', 'tab\there', 'multi\nline\r\ntext', '\\t is not a tab', '{"a":"b\\\\c"}', 'Grüße\\'];
    for (const value of values) expect(readCopyField(copyValue(value)), JSON.stringify(value)).toBe(value);
  });
});

describe('validRowLine', () => {
  const product = {
    ean: '4006381333931',
    name: 'Tab\there, new\nline',
    brand: null,
    category: 'Back\\slash',
    description: 'cr\rlf',
    price: '1.50',
    currency: 'EUR',
    stock: 0,
    image_url: 'http://example.com/a\tb.png',
    attributes: { color: 'red\\blue', size: 42 },
  };

  it('writes the same line as copyLine of the same values', () => {
    for (const first of ['0b8d6f3e-1c1a-4c8e-9d57-2f2b4d6a8e10', 17]) {
      const values = [
        first, product.ean, product.name, product.brand, product.category, product.description,
        product.price, product.currency, product.stock, product.image_url, JSON.stringify(product.attributes),
      ];
      expect(validRowLine(first, product)).toBe(copyLine(values));
    }
  });

  it('reads back as the row it was built from, nulls and empty attributes included', () => {
    const empty = { ...product, brand: null, price: null, currency: null, stock: null, image_url: null, attributes: {} };
    const fields = validRowLine(3, empty).slice(0, -1).split('\t').map(readCopyField);
    expect(fields).toEqual(['3', empty.ean, empty.name, null, empty.category, empty.description, null, null, null, null, '{}']);
  });
});

describe('writeSeenLine', () => {
  it('writes each row of the seen log as `ean<TAB>row`, a line each', () => {
    const buffer = Buffer.alloc(200);
    let bytes = 0;
    for (const [ean, row] of [['4006381333931', 1], ['12345670', 9], ['00012345678905', 10], ['4006381333931', 2_147_483_647]] as const) {
      bytes = writeSeenLine(buffer, bytes, ean, row);
    }
    expect(buffer.toString('latin1', 0, bytes)).toBe('4006381333931\t1\n12345670\t9\n00012345678905\t10\n4006381333931\t2147483647\n');
  });
});
