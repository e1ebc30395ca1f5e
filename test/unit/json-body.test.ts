import { describe, expect, it } from 'vitest';
import { nestsDeeperThan, unstorablePath } from '../../src/api/json-body.js';

const nul = (path: string) => ({ path, holds: 'NUL' });
const surrogate = (path: string) => ({ path, holds: 'surrogate' });

describe('unstorablePath', () => {
  it('names the field, item or key that holds a NUL character', () => {
    expect(unstorablePath({ name: 'pen', price: '1.50', stock: 3, active: true, image_url: null })).toBeNull();
    expect(unstorablePath({ name: 'pe\u0000n' })).toEqual(nul('name'));
    expect(unstorablePath({ attributes: { color: ['blue', 're\u0000d'] } })).toEqual(nul('attributes.color[1]'));
    expect(unstorablePath({ attributes: { 'col\u0000or': 'blue' } })).toEqual(nul('attributes."col\\u0000or"'));
    expect(unstorablePath('\u0000')).toEqual(nul('the body'));
    expect(unstorablePath([{ a: 'x' }, { b: '\u0000' }])).toEqual(nul('[1].b'));
  });

  it('names the field or key that holds an unpaired surrogate, and lets a pair (an emoji) pass', () => {
    expect(unstorablePath({ name: 'Pen 😀', attributes: { '😀': '日本' } })).toBeNull();
    expect(unstorablePath({ filter: { brand: '\ud800' } })).toEqual(surrogate('filter.brand'));
    expect(unstorablePath({ columns: { 'E\udc00': 'ean' } })).toEqual(surrogate('columns."E\\udc00"'));
    expect(unstorablePath(['ok', 'x\ud83d'])).toEqual(surrogate('[1]'));
  });

  it('walks a deeply nested body without exhausting the stack', () => {
    let body: unknown = 'deep\u0000';
    for (let depth = 0; depth < 200_000; depth += 1) body = [body];
    expect(unstorablePath(body)).toEqual(nul('[0]'.repeat(200_000)));
  });
});

describe('nestsDeeperThan', () => {
  const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

  it('counts arrays and objects alike, up to the bound and past it', () => {
    expect(nestsDeeperThan(nested(32), 32)).toBe(false);
    expect(nestsDeeperThan(nested(33), 32)).toBe(true);
    expect(nestsDeeperThan('{"a":'.repeat(33) + '1' + '}'.repeat(33), 32)).toBe(true);
    expect(nestsDeeperThan('{"a":[{"b":[1,2]},{"c":{}}]}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a":[{"b":[1,2]},{"c":{}}]}', 3)).toBe(true);
  });

  it('counts depth, not brackets: siblings do not add up', () => {
    expect(nestsDeeperThan(`[${Array.from({ length: 10_000 }, () => '[1]').join(',')}]`, 2)).toBe(false);
  });

  it('does not count brackets inside strings, escaped quotes and backslashes included', () => {
    expect(nestsDeeperThan(JSON.stringify({ name: '[[[[[[[[' }), 2)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ name: 'say "[[[["' }), 2)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ name: 'ends in \\' }) + '', 2)).toBe(false);
    expect(nestsDeeperThan(`[${JSON.stringify('back\\')},[[1]]]`, 2)).toBe(true);
  });
});
