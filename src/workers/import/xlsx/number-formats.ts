/**
 * How a numeric cell is written as text, from its number format: as a date, with a fixed number
 * of decimals, or in its shortest exact form.
 */
export type NumberStyle =
  /** `elapsed`: a duration format (`[h]:mm:ss`), whose hours run past 24. */
  | { kind: 'date'; hasDate: boolean; hasTime: boolean; elapsed?: true }
  /** `integerDigits`: the zeros before the point, which pad the integer part (`0000000000000`: an EAN's leading zeros). */
  | { kind: 'fixed'; decimals: number; integerDigits: number }
  | null;

/**
 * Built-in formats (ECMA-376 Part 1, 18.8.30) that matter here: the date and time ones (14–22,
 * 45–47, and the East Asian ones 27–36, 50–58) and those with two decimals (2, 4, 7, 8, 10, 11).
 */
const BUILT_IN: Record<number, string> = {
  1: '0', 2: '0.00', 3: '#,##0', 4: '#,##0.00', 9: '0%', 10: '0.00%', 11: '0.00E+00',
  14: 'yyyy-mm-dd', 15: 'd-mmm-yy', 16: 'd-mmm', 17: 'mmm-yy', 18: 'h:mm AM/PM', 19: 'h:mm:ss AM/PM',
  20: 'h:mm', 21: 'h:mm:ss', 22: 'yyyy-mm-dd h:mm', 45: 'mm:ss', 46: '[h]:mm:ss', 47: 'mm:ss.0',
};
for (const id of [27, 28, 29, 30, 31, 34, 35, 36, 50, 51, 52, 53, 54, 57, 58]) BUILT_IN[id] = 'yyyy-mm-dd';
for (const id of [32, 33, 55, 56]) BUILT_IN[id] = 'h:mm:ss';

/** The format code of a built-in format id, or undefined for one that only says "General". */
export function builtInFormat(id: number): string | undefined {
  return BUILT_IN[id];
}

/**
 * The {@link NumberStyle} of a format code: a date when, outside quoted text, escapes and
 * bracketed colours or locales, it has day, month, year, hour, minute or second letters; fixed decimals
 * for a plain number format (`0.00`, `#,##0.00`), with the integer digits its zeros ask for;
 * otherwise none (General, percent, exponent…).
 */
export function numberStyleOf(code: string | undefined): NumberStyle {
  if (code === undefined) return null;
  const section = code.split(';')[0]!;
  const bare = section
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/\[(?!h+\]|m+\]|s+\])[^\]]*\]/gi, '')
    .replace(/_.|\*./g, '')
    // The 12-hour clock's markers: their M is no month.
    .replace(/am\/pm|a\/p/gi, '');
  if (/[dmyhs]/i.test(bare.replace(/general/gi, ''))) {
    const style: NumberStyle = { kind: 'date', hasDate: showsDate(bare), hasTime: /[hs]/i.test(bare) };
    return /\[(h+|m+|s+)\]/i.test(bare) ? { ...style, hasDate: false, hasTime: true, elapsed: true } : style;
  }
  if (/[%eE@]/.test(bare)) return null;
  const integerDigits = bare.split('.')[0]!.replaceAll(/[^0]/g, '').length;
  const decimals = /\.([0#?]+)/.exec(bare)?.[1]?.length;
  if (decimals !== undefined) return { kind: 'fixed', decimals, integerDigits };
  return /[0#?]/.test(bare) ? { kind: 'fixed', decimals: 0, integerDigits } : null;
}

/**
 * Whether the date and time letters of `bare` (a format without its quoted text and escapes) show
 * a day, month or year. As Excel reads them, an `m` or `mm` right after an hour or right before a
 * second is minutes, whatever separators stand between (`h:mm`, `mm:ss`, `mm:ss.0`), so a time of
 * minutes and seconds is no date; `mmm` and longer are a month's name wherever they stand.
 */
function showsDate(bare: string): boolean {
  const letters = bare.match(/d+|m+|y+|h+|s+/gi) ?? [];
  return letters.some((run, index) => {
    if (/^[dy]/i.test(run)) return true;
    if (!/^m/i.test(run)) return false;
    const minutes = /^h/i.test(letters[index - 1] ?? '') || /^s/i.test(letters[index + 1] ?? '');
    return run.length > 2 || !minutes;
  });
}
