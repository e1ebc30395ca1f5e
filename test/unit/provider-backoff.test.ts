import { describe, expect, it } from 'vitest';
import { backoffMs, retryAfterMs } from '../../src/workers/enrich/provider-client.js';

describe('provider back-off', () => {
  const middle = () => 0.5;

  it('doubles from the base: 1 s, 2 s, 4 s, 8 s, 16 s', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, 1_000, 30_000, middle))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000,
    ]);
  });

  it('never waits longer than the 30 s cap, whatever the jitter', () => {
    expect(backoffMs(6, 1_000, 30_000, middle)).toBe(30_000);
    expect(backoffMs(10, 1_000, 30_000, () => 0.999)).toBe(30_000);
  });

  it('spreads each wait by ±25% so that workers failing together do not retry together', () => {
    expect(backoffMs(3, 1_000, 30_000, () => 0)).toBe(3_000);
    expect(backoffMs(3, 1_000, 30_000, () => 0.999)).toBe(4_998);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-05-14T10:30:00Z');

  it('reads delta-seconds', () => {
    expect(retryAfterMs('7', now)).toBe(7_000);
    expect(retryAfterMs(' 7 ', now)).toBe(7_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(retryAfterMs('Thu, 14 May 2026 10:30:12 GMT', now)).toBe(12_000);
    expect(retryAfterMs('Thu, 14 May 2026 10:29:00 GMT', now)).toBe(0);
    expect(retryAfterMs('Thursday, 14-May-26 10:30:12 GMT', now)).toBe(12_000);
    expect(retryAfterMs('Thu May 14 10:30:12 2026', now)).toBe(12_000);
  });

  it('reads the first of two headers joined by a comma', () => {
    expect(retryAfterMs('6, 6', now)).toBe(6_000);
    expect(retryAfterMs('6, 60', now)).toBe(6_000);
    expect(retryAfterMs('Thu, 14 May 2026 10:30:12 GMT, Thu, 14 May 2026 10:31:00 GMT', now)).toBe(12_000);
    expect(retryAfterMs('Thu May 14 10:30:12 2026, 60', now)).toBe(12_000);
  });

  it('is null when absent, or neither delta-seconds nor an HTTP date', () => {
    for (const value of [null, '', 'soon', '-5', '+5', '1.5', '1e3', 'Later 2030', '2030-01-01', 'Thu, 31 Feb 2026 10:30:12 GMT']) {
      expect(retryAfterMs(value, now), String(value)).toBeNull();
    }
  });
});
