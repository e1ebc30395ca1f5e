import { describe, expect, it } from 'vitest';
import { nulPath } from '../../src/api/json-body.js';

describe('nulPath', () => {
  it('names the field, item or key that holds a NUL character', () => {
    expect(nulPath({ name: 'pen', price: '1.50', stock: 3, active: true, image_url: null })).toBeNull();
    expect(nulPath({ name: 'pe\u0000n' })).toBe('name');
    expect(nulPath({ attributes: { color: ['blue', 're\u0000d'] } })).toBe('attributes.color[1]');
    expect(nulPath({ attributes: { 'col\u0000or': 'blue' } })).toBe('attributes."col\\u0000or"');
    expect(nulPath('\u0000')).toBe('the body');
    expect(nulPath([{ a: 'x' }, { b: '\u0000' }])).toBe('[1].b');
  });

  it('walks a deeply nested body without exhausting the stack', () => {
    let body: unknown = 'deep\u0000';
    for (let depth = 0; depth < 200_000; depth += 1) body = [body];
    expect(nulPath(body)).toBe('[0]'.repeat(200_000));
  });
});
