/**
 * JSON numbers that JSON.parse would change. JSON.parse reads every number into a double, so
 * 9007199254740993 becomes 9007199254740992, 1e-400 becomes 0 and 1e400 Infinity, and the text
 * JSON.stringify writes back (what jsonb stores) is the double's. An attribute value is kept as
 * written (README: Products API), so such a number is refused where it arrives, from its text:
 * Node has no access to a number's source in JSON.parse. Shared by the API's JSON bodies and the
 * import's `attributes` cell.
 */

/** A literal with at most this many characters and no exponent has at most 15 digits: a double holds it. */
const ALWAYS_EXACT_LENGTH = 15;

/** The significant digits of a decimal number (no leading or trailing zeros) and the power of ten of the last. */
interface Decimal {
  digits: string;
  exponent: number;
}

/** The digits and exponent of a JSON number literal or of `String(number)` (`1e+21`, `1.5e-7`); no sign. */
function decimalOf(text: string): Decimal {
  const unsigned = text.charCodeAt(0) === 0x2d ? text.slice(1) : text;
  const e = unsigned.search(/[eE]/);
  const mantissa = e === -1 ? unsigned : unsigned.slice(0, e);
  const point = mantissa.indexOf('.');
  const whole = point === -1 ? mantissa : mantissa.slice(0, point);
  const fraction = point === -1 ? '' : mantissa.slice(point + 1);
  let digits = (whole + fraction).replace(/^0+/, '');
  const trimmed = digits.replace(/0+$/, '');
  const exponent = (e === -1 ? 0 : Number(unsigned.slice(e + 1))) - fraction.length + (digits.length - trimmed.length);
  digits = trimmed;
  return { digits, exponent: digits === '' ? 0 : exponent };
}

/**
 * What JSON.parse makes of a JSON number `literal` when that is not the number written: the
 * double it becomes (Infinity for one too large), or null when the double is the same decimal
 * value (`1.50` is 1.5, `0.1` is 0.1: only how it is written differs; `-0` is 0).
 */
export function changedNumber(literal: string): number | null {
  if (literal.length <= ALWAYS_EXACT_LENGTH && !/[eE]/.test(literal)) return null;
  const value = Number(literal);
  if (!Number.isFinite(value)) return value;
  const written = decimalOf(literal);
  const kept = decimalOf(String(value));
  return written.digits === kept.digits && written.exponent === kept.exponent ? null : value;
}

/** A number of a JSON text that JSON.parse changes, where it is (keys and indexes) and as written. */
export interface ChangedNumber {
  path: Array<string | number>;
  literal: string;
  value: number;
}

/** One open array or object of the scan: the index of its current item, or its current key's quotes. */
interface Frame {
  array: boolean;
  index: number;
  keyStart: number;
  keyEnd: number;
  expectKey: boolean;
}

const isNumberStart = (code: number) => code === 0x2d || (code >= 0x30 && code <= 0x39);
const isNumberPart = (code: number) => isNumberStart(code) || code === 0x2b || code === 0x2e || code === 0x45 || code === 0x65;

/** The index of the quote closing the string whose opening quote is at `start` (the text's length if none does). */
function stringEnd(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  for (;;) {
    if (end === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes += 1;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

/**
 * Whether a JSON text may hold a number {@link changedNumber} looks at: one with an exponent (a
 * digit, then `e`) or of more than 15 characters (a run of digits, points and minus signs).
 * Strings match too, and are passed over by the scan; without a match there is none to scan for.
 */
const MAY_HOLD_CHANGED = new RegExp(`\\d[eE]|[-\\d.]{${ALWAYS_EXACT_LENGTH + 1}}`);

/** The path of the value the scan is at; keys are decoded only here, for a number reported. */
const pathOf = (text: string, frames: readonly Frame[]): Array<string | number> =>
  frames.map((frame) => (frame.array ? frame.index : keyOf(text, frame)));

const keyOf = (text: string, frame: Frame) => JSON.parse(text.slice(frame.keyStart, frame.keyEnd + 1)) as string;

/**
 * The numbers of `text`, valid JSON, that JSON.parse changes ({@link changedNumber}), in the
 * order written, and at most `max` of them. With `under`, only those inside the value of that
 * key of the top-level object: the other values are skipped unread. One pass: strings are
 * skipped with indexOf, and only numbers of more than 15 characters or with an exponent are
 * converted.
 */
export function changedNumbers(text: string, options: { under?: string; max?: number } = {}): ChangedNumber[] {
  const { under, max = Infinity } = options;
  const found: ChangedNumber[] = [];
  if (!MAY_HOLD_CHANGED.test(text)) return found;
  const frames: Frame[] = [];
  for (let index = 0; index < text.length && found.length < max; index += 1) {
    const code = text.charCodeAt(index);
    const top = frames.at(-1);
    if (code === 0x22) {
      const end = stringEnd(text, index);
      if (top && !top.array && top.expectKey) Object.assign(top, { keyStart: index, keyEnd: end, expectKey: false });
      index = end;
    } else if (code === 0x7b || code === 0x5b) {
      // A value of the top level other than `under`'s is not looked into.
      if (under !== undefined && frames.length === 1 && (top!.array || keyOf(text, top!) !== under)) index = closingBracket(text, index);
      else frames.push({ array: code === 0x5b, index: 0, keyStart: 0, keyEnd: 0, expectKey: code === 0x7b });
    } else if (code === 0x7d || code === 0x5d) frames.pop();
    else if (code === 0x2c && top) {
      if (top.array) top.index += 1;
      else top.expectKey = true;
    } else if (isNumberStart(code)) {
      let end = index + 1;
      while (end < text.length && isNumberPart(text.charCodeAt(end))) end += 1;
      const literal = text.slice(index, end);
      const value = changedNumber(literal);
      if (value !== null && (under === undefined || frames.length > 1)) found.push({ path: pathOf(text, frames), literal, value });
      index = end - 1;
    }
  }
  return found;
}

/** The index of the bracket closing the array or object opened at `start` (strings skipped). */
function closingBracket(text: string, start: number): number {
  let depth = 0;
  for (let index = start; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 0x22) index = stringEnd(text, index);
    else if (code === 0x7b || code === 0x5b) depth += 1;
    else if ((code === 0x7d || code === 0x5d) && --depth === 0) return index;
  }
  return text.length;
}

const shown = (text: string) => (text.length > 40 ? `${Array.from(text).slice(0, 40).join('')}…` : text);

/** Why the attribute `name` cannot keep the number `literal`, which JSON.parse made `value`. */
export function changedNumberMessage(name: string, { literal, value }: Pick<ChangedNumber, 'literal' | 'value'>): string {
  const what = `The attribute '${shown(name)}' is the number ${shown(literal)}`;
  const advice = 'send it as a string to keep it as written.';
  if (!Number.isFinite(value)) return `${what}, which is too large to be stored as a number; ${advice}`;
  return `${what}, which cannot be stored exactly (it would become ${String(value)}); ${advice}`;
}
