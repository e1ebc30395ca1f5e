import { describe, expect, it } from 'vitest';
import { SharedStrings } from '../../src/workers/import/xlsx/shared-strings.js';

describe('SharedStrings', () => {
  it('gives back every string by index across pages, long and non-ASCII ones included', () => {
    const store = new SharedStrings();
    const long = 'ä'.repeat(3 << 20); // 6 MiB of UTF-8: longer than a page
    const strings = Array.from({ length: 300_000 }, (_, i) => (i === 1234 ? long : i % 7 === 0 ? '' : `Ströng ${i} 🍐`));
    for (const text of strings) store.add(text);
    expect(store.size).toBe(strings.length);
    for (const index of [0, 1, 7, 1233, 1234, 1235, 150_000, 299_999]) expect(store.get(index)).toBe(strings[index]);
    expect(store.get(300_000)).toBeUndefined();
    expect(store.get(-1)).toBeUndefined();
    expect(store.get(Number.NaN)).toBeUndefined();
    expect(store.get(1.5)).toBeUndefined();
  });

  it('keeps the place of a string too large for a row, and its neighbours whole', () => {
    const store = new SharedStrings();
    store.add('before');
    store.addTooLarge();
    store.add('after');
    expect([0, 1, 2, 3].map((index) => store.get(index))).toEqual(['before', null, 'after', undefined]);
  });
});
