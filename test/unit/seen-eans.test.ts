import { describe, expect, it } from 'vitest';
import { SeenEans, seenSlotsFor } from '../../src/workers/import/seen-eans.js';

describe('SeenEans', () => {
  it('returns 0 for a new EAN and the row of its first occurrence for a repeat', () => {
    const seen = new SeenEans();
    expect(seen.firstRowOrAdd('4006381333931', 1)).toBe(0);
    expect(seen.firstRowOrAdd('5901234123457', 2)).toBe(0);
    expect(seen.firstRowOrAdd('4006381333931', 3)).toBe(1);
    expect(seen.firstRowOrAdd('4006381333931', 4)).toBe(1);
    expect(seen.size).toBe(2);
  });

  it('keeps EANs that differ only by leading zeros apart, as the text comparison in SQL does', () => {
    const seen = new SeenEans();
    expect(seen.firstRowOrAdd('012345678905', 1)).toBe(0);
    expect(seen.firstRowOrAdd('0012345678905', 2)).toBe(0);
    expect(seen.firstRowOrAdd('00012345678905', 3)).toBe(0);
    expect(seen.firstRowOrAdd('0012345678905', 4)).toBe(2);
    expect(seen.firstRowOrAdd('99999999999999', 5)).toBe(0);
    expect(seen.firstRowOrAdd('99999999999999', 6)).toBe(5);
  });

  it('grows past its first size and still finds every EAN with its first row, in no order', () => {
    const seen = new SeenEans(1 << 12, 16);
    // 7919 is prime: i * 7919 mod 2003 visits every number below 2003 once, in no order.
    const ean = (i: number) => String(10_000_000 + ((i * 7919) % 2_003)).padStart(13, '0');
    for (let i = 0; i < 2_000; i += 1) expect(seen.firstRowOrAdd(ean(i), i + 1)).toBe(0);
    for (let i = 0; i < 2_000; i += 1) expect(seen.firstRowOrAdd(ean(i), 5_000)).toBe(i + 1);
    expect(new Map(seen.entries())).toEqual(new Map(Array.from({ length: 2_000 }, (_, i) => [ean(i), i + 1])));
  });

  it('finds EANs of a file in EAN order, of rows out of order in it, and of the run after them', () => {
    const seen = new SeenEans();
    const ean = (i: number) => String(4_000_000_000_000 + i * 10);
    let row = 0;
    for (let i = 0; i < 200_000; i += 2) expect(seen.firstRowOrAdd(ean(i), (row += 1))).toBe(0);
    // Out of order: between EANs already seen, and repeats of them.
    expect(seen.firstRowOrAdd(ean(1), (row += 1))).toBe(0);
    expect(seen.firstRowOrAdd(ean(99_999), (row += 1))).toBe(0);
    expect(seen.firstRowOrAdd(ean(0), 900_000)).toBe(1);
    expect(seen.firstRowOrAdd(ean(199_998), 900_000)).toBe(100_000);
    expect(seen.firstRowOrAdd(ean(1), 900_000)).toBe(100_001);
    // In order again, past the last EAN seen.
    for (let i = 200_000; i < 200_010; i += 1) expect(seen.firstRowOrAdd(ean(i), (row += 1))).toBe(0);
    expect(seen.firstRowOrAdd(ean(99_999), 900_000)).toBe(100_002);
    expect(seen.firstRowOrAdd(ean(200_009), 900_000)).toBe(row);
    expect(seen.size).toBe(100_012);
    const entries = new Map(seen.entries());
    expect(entries.size).toBe(100_012);
    expect(entries.get(ean(99_999))).toBe(100_002);
    expect(entries.get(ean(2))).toBe(2);
  });

  it('says it is full near its slot budget, and keeps working when added to beyond it', () => {
    const seen = new SeenEans(64, 16);
    let row = 0;
    while (!seen.full) seen.firstRowOrAdd(String(96_385_074 + row * 10), (row += 1));
    expect(seen.size).toBeGreaterThanOrEqual(44);
    expect(seen.size).toBeLessThan(64);
    for (let extra = 0; extra < 100; extra += 1) seen.firstRowOrAdd(String(50_000_000 + extra), row + extra + 1);
    expect(seen.firstRowOrAdd('96385074', 999)).toBe(1);
    expect(seen.firstRowOrAdd(String(50_000_000 + 99), 999)).toBe(row + 100);
  });

  it('starts at a size for the file: room for an EAN per 64 bytes, within its bounds', () => {
    expect(seenSlotsFor(0)).toBe(1 << 16);
    expect(seenSlotsFor(2_000_000)).toBe(1 << 16);
    // 10 MB: 10e6 / 64 = 156k EANs, past 0.7 of 2^17 slots.
    expect(seenSlotsFor(10_000_000)).toBe(1 << 18);
    // The benchmark's 1M-row file (95 MB) gets the whole budget: 1.47M EANs before it is full.
    expect(seenSlotsFor(95_400_000)).toBe(1 << 21);
    expect(seenSlotsFor(1 << 30)).toBe(1 << 21);
    expect(seenSlotsFor(1 << 30, 1 << 18)).toBe(1 << 18);
  });

  it('holds 1.4M EANs at the default budget before it is full', () => {
    const seen = new SeenEans(undefined, seenSlotsFor(95_400_000));
    for (let i = 0; i < 1_400_000; i += 1) seen.firstRowOrAdd(String(4_000_000_000_000 + i * 7), i + 1);
    expect(seen.full).toBe(false);
    expect(seen.firstRowOrAdd('4000000000000', 2_000_000)).toBe(1);
    expect(seen.firstRowOrAdd(String(4_000_000_000_000 + 1_399_999 * 7), 2_000_000)).toBe(1_400_000);
  });

  it('starts empty when it takes over the memory of a table let go before it', () => {
    // In no order (100,003 is prime), so that the EANs go to the hash table.
    const ean = (i: number) => String(4_000_000_000_000 + ((i * 7919) % 100_003) * 7);
    const before = new SeenEans(undefined, 1 << 18);
    for (let i = 0; i < 100_000; i += 1) before.firstRowOrAdd(ean(i), i + 1);
    before.clear();
    const after = new SeenEans(undefined, 1 << 18);
    for (let i = 0; i < 100_000; i += 1) expect(after.firstRowOrAdd(ean(i), i + 1)).toBe(0);
    expect(after.size).toBe(100_000);
    expect(after.firstRowOrAdd(ean(99_999), 200_000)).toBe(100_000);
  });
});
