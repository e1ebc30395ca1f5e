import { describe, expect, it } from 'vitest';
import { readAttributesCell } from '../../src/workers/import/attributes-cell.js';

describe('readAttributesCell', () => {
  it('reads a JSON object of strings, numbers and booleans with their types', () => {
    expect(readAttributesCell('{"color": "red", "weight": 1.5, "count": -3, "organic": false, "note": "=1+1"}')).toEqual({
      ok: true,
      attributes: { color: 'red', weight: 1.5, count: -3, organic: false, note: '=1+1' },
    });
  });

  it('gives no attributes for an empty or blank cell and for {}', () => {
    for (const cell of ['', '  ', '{}', ' {} ']) expect(readAttributesCell(cell)).toEqual({ ok: true, attributes: {} });
  });

  it('keeps __proto__ as an ordinary key', () => {
    const cell = readAttributesCell('{"__proto__": "x"}');
    expect(cell.ok && JSON.stringify(cell.attributes)).toBe('{"__proto__":"x"}');
  });

  it.each(['{color: "red"}', '{"a": 1,}', 'red', '[1]', '"red"', '42', 'true', 'null'])('refuses %s', (cell) => {
    const result = readAttributesCell(cell);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/^The attributes cell must be a JSON object of attributes/);
  });

  it.each(['{"a": {"b": 1}}', '{"a": [1]}', '{"a": null}', '{"a": {"b": 1e400}}'])('refuses the value in %s', (cell) => {
    expect(readAttributesCell(cell)).toEqual({
      ok: false,
      message: "The attribute 'a' must be a string, number or boolean (nested objects, arrays and null are not allowed).",
    });
  });

  it('refuses a number JSON.parse would change, naming the attribute by its decoded name', () => {
    expect(readAttributesCell('{"s": "1e400", "\\u0061\\"": 1e400}')).toEqual({
      ok: false,
      field: 'attributes.a"',
      message: "The attribute 'a\"' is the number 1e400, which is too large to be stored as a number; send it as a string to keep it as written.",
    });
  });

  it('gives the names in NFC, and refuses one name given in two forms', () => {
    expect(readAttributesCell('{"Gro\u0308\u00dfe": 1.50}')).toEqual({ ok: true, attributes: { Größe: 1.5 } });
    expect(readAttributesCell('{"Größe": 1, "Gro\u0308\u00dfe": 2}')).toMatchObject({ ok: false, message: expect.stringMatching(/^The attribute name 'Größe' is given twice/) });
  });
});
