const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';

/**
 * The three forms of an HTTP-date (RFC 9110 §5.6.7), each naming its day of the month: IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`)
 * and asctime's (`Sun Nov  6 08:49:37 1994`, in GMT without saying so).
 */
const HTTP_DATE_FORMS = [
  new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\\d{2}) ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT$`),
  new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?<day>\\d{2})-${MONTH}-\\d{2} \\d{2}:\\d{2}:\\d{2} GMT$`),
  new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} (?<day>[ \\d]\\d) \\d{2}:\\d{2}:\\d{2} \\d{4}$`),
];

/**
 * An HTTP-date's time (ms since the epoch), or null for any other value: `Date.parse` alone would
 * take `2027-01-01`, `6, 6` or `garbage 3000` as a date. A download ignores a condition whose date
 * is no HTTP-date (RFC 9110 §13.1.3), and the enrichment such a Retry-After (it waits its back-off).
 */
export function httpDate(value: string | undefined): number | null {
  const text = value?.trim() ?? '';
  const day = HTTP_DATE_FORMS.map((form) => form.exec(text)?.groups?.day).find((found) => found !== undefined);
  if (day === undefined) return null;
  const time = Date.parse(text.endsWith(' GMT') ? text : `${text} GMT`);
  // Date.parse rolls a day past its month's end over (30 Feb is 2 Mar): such a value is no date.
  return Number.isNaN(time) || new Date(time).getUTCDate() !== Number(day) ? null : time;
}
