import { describe, expect, it } from 'vitest';
import { gtinCheckDigit, hasGtinShape, isValidGtin } from '../../src/shared/product/gtin.js';

/** Published, known-valid codes of each GTIN length (GS1 and Wikipedia examples). */
const VALID = {
  'EAN-8': ['96385074', '73513537'],
  'UPC-A': ['036000291452', '012345678905'],
  'EAN-13': ['4006381333931', '5901234123457'],
  'GTIN-14': ['15400141288763', '10614141000415', '00012345600012'],
};

describe('gtinCheckDigit', () => {
  it('computes the GS1 mod-10 check digit of each length from the digits before it', () => {
    for (const codes of Object.values(VALID)) {
      for (const code of codes) expect(gtinCheckDigit(code.slice(0, -1)), code).toBe(Number(code.at(-1)));
    }
  });

  it('gives 0 when the weighted sum is already a multiple of ten', () => {
    expect(gtinCheckDigit('0000000')).toBe(0);
    expect(gtinCheckDigit('000000000000')).toBe(0);
  });
});

describe('isValidGtin', () => {
  for (const [kind, codes] of Object.entries(VALID)) {
    it(`accepts valid ${kind} codes`, () => {
      for (const code of codes) expect(isValidGtin(code), code).toBe(true);
    });

    it(`rejects ${kind} codes with any other check digit`, () => {
      for (const code of codes) {
        const right = Number(code.at(-1));
        for (let digit = 0; digit <= 9; digit += 1) {
          if (digit !== right) expect(isValidGtin(code.slice(0, -1) + digit), `${code} → ${digit}`).toBe(false);
        }
      }
    });
  }

  it('rejects a valid code with two adjacent digits swapped', () => {
    // 4006381333931 → 0406381333931: a transposition the weights 3/1 catch.
    expect(isValidGtin('0406381333931')).toBe(false);
  });

  it('rejects lengths outside 8, 12, 13 and 14 even when the check digit fits', () => {
    // Each of these ends in the right mod-10 digit for its body, but has no GTIN length.
    for (const body of ['123456', '123456789', '1234567890', '12345678901234']) {
      const code = body + gtinCheckDigit(body);
      expect(isValidGtin(code), code).toBe(false);
    }
  });

  it('rejects a code with a non-digit in its body and a last character just below 0', () => {
    for (const value of ['4006381a3393/', '9638507/', '03600029145a/']) expect(isValidGtin(value), value).toBe(false);
  });

  it('rejects non-digit characters, signs, spaces and empty strings', () => {
    for (const value of ['', '400638133393X', '400638133393:', '4006381/33931', '/0063813339:1', '4006381 333931', ' 4006381333931', '4006381333931 ', '+4006381333931', '4006381333931\n', '４００６３８１３３３９３１']) {
      expect(isValidGtin(value), JSON.stringify(value)).toBe(false);
    }
  });
});

describe('hasGtinShape', () => {
  it('accepts 8, 12, 13 and 14 digits regardless of the check digit', () => {
    for (const value of ['12345678', '123456789012', '1234567890123', '12345678901234']) {
      expect(hasGtinShape(value), value).toBe(true);
    }
  });

  it('rejects 7, 9, 10, 11 and 15 digits and anything that is not only digits', () => {
    for (const value of ['1234567', '123456789', '1234567890', '12345678901', '123456789012345', 'abcdefgh', '1234-5678', '']) {
      expect(hasGtinShape(value), value).toBe(false);
    }
  });
});
