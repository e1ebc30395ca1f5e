import { describe, expect, it } from 'vitest';
import { SeenEans } from '../../src/workers/import/seen-eans.js';
import { SeenLog } from '../../src/workers/import/seen-log.js';

describe('SeenLog', () => {
  it('takes rows past its first size and says it is full at three quarters of its budget', () => {
    const log = new SeenLog(1 << 17);
    const full = (1 << 17) * 0.75;
    for (let row = 1; row < full; row += 1) log.add(14_006_381_333_931 + row, row);
    expect(log.size).toBe(full - 1);
    expect(log.full).toBe(false);
    log.add(14_006_381_333_931, full);
    expect(log.full).toBe(true);
    for (let row = full + 1; row <= (1 << 17) + 10; row += 1) log.add(14_006_381_333_931 - row, row);
    expect(log.size).toBe((1 << 17) + 10);
  });

  it('shares its memory with the table of seen EANs, and a table that takes it over starts empty', () => {
    const seen = new SeenEans(undefined, 1 << 18);
    for (let i = 0; i < 1_000; i += 1) seen.firstRowOrAdd(String(4_000_000_000_000 + i), i + 1);
    seen.clear();
    const log = new SeenLog();
    expect(log.size).toBe(0);
    for (let row = 1; row <= 1_000; row += 1) log.add(15_000_000_000_000 + row, row);
    log.clear();
    const after = new SeenEans(undefined, 1 << 18);
    expect(after.firstRowOrAdd('4000000000000', 5)).toBe(0);
    expect(after.firstRowOrAdd('5000000000001', 6)).toBe(0);
    expect(after.size).toBe(2);
  });
});
