import { describe, expect, it } from 'vitest';
import { mapProviderProduct } from '../../src/workers/enrich/provider-fields.js';

describe("the provider's text fields", () => {
  it('measures name, brand and category in characters: 500 emoji are a name', () => {
    const emoji = '🖊'.repeat(500);
    expect(emoji.length).toBe(1_000);
    expect(mapProviderProduct({ name: emoji, brand: emoji, category: emoji })).toEqual({ name: emoji, brand: emoji, category: emoji });
  });

  it('leaves out a name of 501 characters', () => {
    expect(mapProviderProduct({ name: '🖊'.repeat(501), brand: 'Stabilo' })).toEqual({ brand: 'Stabilo' });
  });
});

describe("the provider's attributes", () => {
  it('leaves out an invalid attribute and keeps the others', () => {
    const attributes = {
      color: 'blue',
      ['n'.repeat(201)]: 'name too long',
      long: 'v'.repeat(10_001),
      nested: { a: 1 },
      list: ['a'],
      nothing: null,
      size: 42,
      fragile: true,
      emoji: '🖊'.repeat(10_000),
    };
    expect(mapProviderProduct({ attributes }).attributes).toEqual({ color: 'blue', size: 42, fragile: true, emoji: '🖊'.repeat(10_000) });
  });

  it('keeps the first of two names that are one name in NFC, whichever form comes first', () => {
    const composed = 'Gr\u00f6\u00dfe';
    const decomposed = 'Gro\u0308\u00dfe';
    expect(mapProviderProduct({ attributes: { [decomposed]: 'M', [composed]: 'L', color: 'blue' } }).attributes).toEqual({ [composed]: 'M', color: 'blue' });
    expect(mapProviderProduct({ attributes: { [composed]: 'L', [decomposed]: 'M', color: 'blue' } }).attributes).toEqual({ [composed]: 'L', color: 'blue' });
  });

  it('takes none of more than 1,000 names, as the API takes no such body', () => {
    const attributes = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`a${i}`, i]));
    expect(mapProviderProduct({ brand: 'Stabilo', attributes })).toEqual({ brand: 'Stabilo' });
  });
});
