import { describe, expect, it } from 'vitest';
import { copyValue } from '../../src/workers/import/copy-writer.js';

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
