/**
 * What PostgreSQL cannot store in text or jsonb: a NUL character (refused outright), or an
 * unpaired UTF-16 surrogate (a JSON escape such as "\ud800", or Excel's `_xD800_`), which no
 * UTF-8 text holds.
 */
export type UnstorableText = 'NUL' | 'surrogate';

/** What of {@link UnstorableText} `text` holds (a NUL first), or null when PostgreSQL can store it as it is. */
export function unstorableText(text: string): UnstorableText | null {
  if (text.includes('\u0000')) return 'NUL';
  return text.isWellFormed() ? null : 'surrogate';
}

/**
 * `text` with each NUL character replaced by U+FFFD (the replacement character), for text that
 * reports what a file held (a cell quoted in a message, the EAN of a refused row, a header
 * saved for errors.csv): such a NUL would otherwise fail the write of the whole report. An
 * unpaired surrogate needs nothing: it is written as U+FFFD on its way to PostgreSQL.
 */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}
