import { describe, expect, it } from 'vitest';
import { EanFilter, filterBytesFor } from '../../src/workers/import/ean-filter.js';
import { eanKey } from '../../src/workers/import/seen-eans.js';

const ean = (i: number) => String(4_000_000_000_000 + i * 7_919);

describe('EanFilter', () => {
  it('never says "certainly new" of an EAN it was given', () => {
    const filter = new EanFilter(1 << 12);
    for (let i = 0; i < 20_000; i += 1) filter.add(eanKey(ean(i)));
    for (let i = 0; i < 20_000; i += 1) expect(filter.add(eanKey(ean(i)))).toBe(true);
  });

  it('says "maybe seen" of few new EANs while it is sized for them', () => {
    const filter = new EanFilter(1 << 20);
    let maybe = 0;
    for (let i = 0; i < 500_000; i += 1) if (filter.add(eanKey(ean(i)))) maybe += 1;
    // 8M bits for 500k keys (16 bits a key): the expected share is well under 0.5%.
    expect(maybe / 500_000).toBeLessThan(0.005);
  });

  it('keeps EANs that differ only by leading zeros apart', () => {
    const filter = new EanFilter(1 << 16);
    expect(filter.add(eanKey('012345678905'))).toBe(false);
    expect(filter.add(eanKey('0012345678905'))).toBe(false);
    expect(filter.add(eanKey('00012345678905'))).toBe(false);
    expect(filter.add(eanKey('0012345678905'))).toBe(true);
  });

  it('takes only a power-of-two size of at least one block', () => {
    expect(() => new EanFilter(100)).toThrow(RangeError);
    expect(() => new EanFilter(32)).toThrow(RangeError);
  });

  it('is sized by the file: 1 byte per 64 bytes, from 64 KiB up to 16 MiB', () => {
    expect(filterBytesFor(0)).toBe(64 << 10);
    expect(filterBytesFor(10_000_000)).toBe(256 << 10);
    expect(filterBytesFor(95_400_000)).toBe(2 << 20);
    expect(filterBytesFor(1 << 30)).toBe(16 << 20);
    expect(filterBytesFor(5 << 30)).toBe(16 << 20);
  });
});
