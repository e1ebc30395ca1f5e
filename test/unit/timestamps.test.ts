import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isoTimestamp, TIMESTAMPS_AS_TEXT } from '../../src/shared/db/timestamps.js';
// The pools' own parsers (int8 as a number) are set where the pools are made.
import '../../src/shared/db/pool.js';

/** What the row parser gave before: a Date from pg's own timestamptz parser, formatted by toISOString. */
const throughDate = (text: string) => (pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => Date)(text).toISOString();

describe('isoTimestamp', () => {
  it('writes what a Date would, for every precision PostgreSQL prints in a UTC session', () => {
    const texts = [
      '2026-12-05 22:09:47+00',
      '2026-12-05 22:09:47.5+00',
      '2026-12-05 22:09:47.05+00',
      '2026-12-05 22:09:47.123+00',
      '2026-12-05 22:09:47.1239+00',
      '2026-12-05 22:09:47.999999+00',
      '2026-12-31 23:59:59.000001+00',
      '0099-01-01 00:00:00.289+00',
    ];
    for (let millis = 0; millis < 1000; millis += 1) texts.push(`2027-01-01 00:00:00.${String(millis).padStart(3, '0')}456+00`);
    for (const text of texts) expect(isoTimestamp(text), text).toBe(throughDate(text));
    expect(isoTimestamp('2026-12-05 22:09:47.1239+00')).toBe('2026-12-05T22:09:47.123Z');
    expect(isoTimestamp('2026-12-05 22:09:47+00')).toBe('2026-12-05T22:09:47.000Z');
  });

  it('reads text of another session time zone through a Date, to the same instant', () => {
    expect(isoTimestamp('2026-12-06 03:39:47.123456+05:30')).toBe('2026-12-05T22:09:47.123Z');
    expect(isoTimestamp('2026-12-05 17:09:47.5-05')).toBe('2026-12-05T22:09:47.500Z');
    expect(isoTimestamp('1850-06-01 00:00:00+00:53:28')).toBe(throughDate('1850-06-01 00:00:00+00:53:28'));
  });
});

describe('TIMESTAMPS_AS_TEXT', () => {
  it('keeps timestamptz text and parses every other type as the pools do', () => {
    expect(TIMESTAMPS_AS_TEXT.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text')('2026-12-05 22:09:47.5+00')).toBe('2026-12-05 22:09:47.5+00');
    expect(TIMESTAMPS_AS_TEXT.getTypeParser(pg.types.builtins.INT8, 'text')('42')).toBe(42);
    expect(TIMESTAMPS_AS_TEXT.getTypeParser(pg.types.builtins.JSONB, 'text')('{"a":1}')).toEqual({ a: 1 });
    expect(TIMESTAMPS_AS_TEXT.getTypeParser(pg.types.builtins.TIMESTAMP, 'text')('2026-12-05 22:09:47')).toBeInstanceOf(Date);
  });
});
