import pg from 'pg';

const TIMESTAMPTZ = pg.types.builtins.TIMESTAMPTZ;
/** A timestamptz as PostgreSQL prints it in a UTC session: `YYYY-MM-DD HH:MM:SS[.ffffff]+00`. */
const UTC_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?\+00$/;
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ) as (text: string) => Date;
const keepText = (text: string) => text;

/**
 * The types of a query whose timestamptz columns stay the text PostgreSQL printed, for
 * {@link isoTimestamp}; every other type is parsed as usual. A row read to be answered as JSON
 * skips a Date parsed only to be formatted again.
 */
export const TIMESTAMPS_AS_TEXT: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary' ? keepText : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A timestamptz read as text ({@link TIMESTAMPS_AS_TEXT}) in the contract's form, as
 * `Date.prototype.toISOString` writes it: `YYYY-MM-DDTHH:MM:SS.mmmZ`, microseconds cut to
 * milliseconds. The pools' sessions run in UTC, so this is string slicing; text in another
 * form (another session time zone) goes through a Date.
 */
export function isoTimestamp(text: string): string {
  if (!UTC_TEXT.test(text)) return parseTimestamptz(text).toISOString();
  const fraction = text.length > 22 ? text.slice(19, Math.min(23, text.length - 3)).padEnd(4, '0') : '.000';
  return `${text.slice(0, 10)}T${text.slice(11, 19)}${fraction}Z`;
}
