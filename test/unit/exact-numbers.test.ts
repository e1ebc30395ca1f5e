import { describe, expect, it } from 'vitest';
import { changedNumber, changedNumberMessage, changedNumbers } from '../../src/shared/product/exact-numbers.js';

describe('changedNumber', () => {
  it.each([
    '0', '-0', '0.000', '0e400', '-0.0e-400', '42', '1.50', '0.1', '1E2', '12.30e1', '123456789012345', '9007199254740992',
    '1e21', '1.5e-7', '5e-324', '1.7976931348623157e308', '-1.25', '0.30000000000000004', '100000000000000000000',
  ])('keeps %s: the double is the value written', (literal) => {
    expect(changedNumber(literal)).toBeNull();
  });

  it.each([
    ['9007199254740993', 9007199254740992],
    ['12345678901234567890', 12345678901234567000],
    ['1e-400', 0],
    ['2.4703282292062328e-324', 5e-324],
    ['0.1000000000000000055511151231257827', 0.1],
    ['1e400', Infinity],
    ['-1e400', -Infinity],
    ['1'.repeat(400), Infinity],
  ])('gives what %s becomes', (literal, value) => {
    expect(changedNumber(literal)).toBe(value);
  });
});

describe('changedNumbers', () => {
  it('finds each changed number with its path, passing over strings, escaped quotes and keys', () => {
    const text = '{"a\\"1e400":"x\\\\","b":[1,1e400,{"\\u0063":9007199254740993}],"c":true,"d":-1E-999}';
    expect(changedNumbers(text)).toEqual([
      { path: ['b', 1], literal: '1e400', value: Infinity },
      { path: ['b', 2, 'c'], literal: '9007199254740993', value: 9007199254740992 },
      { path: ['d'], literal: '-1E-999', value: -0 },
    ]);
  });

  it('looks only under the top-level key `under`, at most `max`', () => {
    const text = '{"x":1e400,"y":{"n":1e400},"attributes":{"n":1e400,"m":[1e999]},"z":[1e400]}';
    expect(changedNumbers(text, { under: 'attributes' }).map(({ path }) => path)).toEqual([['attributes', 'n'], ['attributes', 'm', 0]]);
    expect(changedNumbers(text, { under: 'attributes', max: 1 })).toHaveLength(1);
    expect(changedNumbers('[{"attributes":{"n":1e400}}]', { under: 'attributes' })).toEqual([]);
  });

  it('finds nothing in a text of exact numbers', () => {
    expect(changedNumbers('{"a":[1,2.5,-3e2,"9007199254740993"],"b":{"c":0.1}}')).toEqual([]);
  });
});

describe('changedNumberMessage', () => {
  it('shows 0 for a negative zero and cuts a long literal', () => {
    expect(changedNumberMessage('n', { literal: '-1e-400', value: -0 })).toContain('(it would become 0)');
    expect(changedNumberMessage('n', { literal: '1'.repeat(400), value: Infinity })).toContain(`the number ${'1'.repeat(40)}…, which is too large`);
  });
});

describe('changedNumbers on a text that is not JSON', () => {
  it('ends at an unclosed string instead of looking for its end forever', () => {
    expect(changedNumbers('{"a":1e400,"b":"open')).toEqual([{ path: ['a'], literal: '1e400', value: Infinity }]);
  });
});
