/**
 * The wait a `Retry-After` header asks for, in ms: its delta-seconds form (`5`) or its HTTP-date
 * form (`Wed, 21 Oct 2026 07:28:00 GMT`, counted from `now`; a date past is no wait). Null when the
 * header is missing or neither form. The caller caps it: a value of days must not hold the CLI.
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  const text = value?.trim() ?? '';
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse also reads bare numbers and ISO strings; the header's date always names a weekday.
  const date = /^[a-z]{3}, /i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
