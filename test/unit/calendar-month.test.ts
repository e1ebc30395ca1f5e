import { describe, expect, it } from 'vitest';
import { calendarMonth } from '../../src/shared/accounts/calendar-month.js';

const at = (iso: string) => {
  const { month, resetsAt } = calendarMonth(Date.parse(iso));
  return [month, resetsAt.toISOString()];
};

describe('calendarMonth', () => {
  it('names the UTC month and when the next one starts, across boundaries in either direction', () => {
    expect(at('2026-05-14T10:30:20Z')).toEqual(['2026-05', '2026-06-01T00:00:00.000Z']);
    expect(at('2026-05-31T23:59:59.999Z')).toEqual(['2026-05', '2026-06-01T00:00:00.000Z']);
    expect(at('2026-06-01T00:00:00.000Z')).toEqual(['2026-06', '2026-07-01T00:00:00.000Z']);
    // A clock set back (tests, a corrected host clock) gets its own month, not the last one asked for.
    expect(at('2026-05-31T23:59:59.999Z')).toEqual(['2026-05', '2026-06-01T00:00:00.000Z']);
    expect(at('2026-04-30T12:00:00Z')).toEqual(['2026-04', '2026-05-01T00:00:00.000Z']);
    expect(at('2026-12-31T23:00:00+00:00')).toEqual(['2026-12', '2027-01-01T00:00:00.000Z']);
  });
});
