/**
 * CSV-injection defence shared by exports and imports. A spreadsheet runs a cell that starts with
 * `=`, `+`, `-`, `@`, tab or carriage return as a formula; exports prefix such text cells with
 * one `'`, and the importer strips exactly that one again, so an export re-imports unchanged.
 * A cell that already starts with quotes before such a character gets one more quote, which keeps
 * the mapping reversible for every value.
 */

const QUOTE = 0x27;
const TRIGGERS = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d]); // = + - @ tab CR

/** Length of the run of leading quotes when a trigger character follows it, else -1. */
function quotedTriggerAt(text: string): number {
  let index = 0;
  while (text.charCodeAt(index) === QUOTE) index += 1;
  return TRIGGERS.has(text.charCodeAt(index)) ? index : -1;
}

/** The text as an export writes it: `'` added before a leading formula character. */
export function defuseFormula(text: string): string {
  return quotedTriggerAt(text) === -1 ? text : `'${text}`;
}

/**
 * The cell as it was before {@link defuseFormula}: one leading `'` removed when quotes and then a
 * formula character start it. Looks at the first character only, unless that is a quote.
 */
export function restoreFormula(cell: string): string {
  if (cell.charCodeAt(0) !== QUOTE) return cell;
  return quotedTriggerAt(cell) > 0 ? cell.slice(1) : cell;
}
