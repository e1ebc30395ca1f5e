/** Lengths of the GTIN family: EAN-8, UPC-A (GTIN-12), EAN-13, GTIN-14. */
const GTIN_PATTERN = /^(?:\d{8}|\d{12,14})$/;

/** True when `value` is 8, 12, 13 or 14 digits; says nothing of the check digit. */
export function hasGtinShape(value: string): boolean {
  return GTIN_PATTERN.test(value);
}

/**
 * The GS1 mod-10 check digit for the digits before it (-1 when one is not a digit): from the right,
 * weights 3, 1, 3, 1 …
 * https://www.gs1.org/services/how-calculate-check-digit-manually
 */
export function gtinCheckDigit(body: string): number {
  return checkDigitAt(body, 0, body.length);
}

/**
 * True when `value` has a GTIN shape and its last digit is the right GS1 check digit. One pass over
 * the characters, with no string cut out: every row of an import checks its EAN here.
 */
export function isValidGtin(value: string): boolean {
  return isValidGtinAt(value, 0, value.length);
}

/** {@link isValidGtin} of the characters of `text` from `start` to `end`, read where they are. */
export function isValidGtinAt(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length !== 8 && (length < 12 || length > 14)) return false;
  const last = text.charCodeAt(end - 1) - 48;
  // A last character below '0' would otherwise equal the -1 of a body with a non-digit.
  return last >= 0 && last <= 9 && checkDigitAt(text, start, end - 1) === last;
}

/** {@link gtinCheckDigit} of the characters of `text` from `start` to `end`; -1 when one is not a digit. */
function checkDigitAt(text: string, start: number, end: number): number {
  let sum = 0;
  for (let i = end - 1, weight = 3; i >= start; i -= 1, weight = 4 - weight) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    sum += digit * weight;
  }
  return (10 - (sum % 10)) % 10;
}
