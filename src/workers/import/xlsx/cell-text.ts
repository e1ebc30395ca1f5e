import type { NumberStyle } from './number-formats.js';

const MS_PER_DAY = 86_400_000;
/** 1899-12-30, day 0 of the 1900 date system once Excel's phantom 1900-02-29 is skipped. */
const EPOCH_1900_MS = Date.UTC(1899, 11, 30);
/** 1904-01-01, day 0 of the 1904 date system (old Mac workbooks, `date1904`). */
const EPOCH_1904_MS = Date.UTC(1904, 0, 1);

/** Excel keeps and shows 15 significant digits: more are a binary fraction's noise. */
const EXCEL_DIGITS = 15;

/**
 * The text of a numeric cell, as the CSV path would see it typed: integers with all their digits
 * (an EAN of 13 digits is exact in a double) and never an exponent, padded with the leading zeros
 * of a format such as `0000000000000`; decimals to Excel's 15 significant digits (a formula's
 * 16.799999999999997 is the 16.8 the sheet shows), in their shortest form or with the fixed
 * decimals of the cell's number format (`1.50` with format `0.00`) when that is exact; dates in
 * ISO 8601.
 */
export function numberText(raw: string, style: NumberStyle, date1904: boolean): string {
  let value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) return raw;
  if (style?.kind === 'date') return dateText(value, style, date1904);
  if (!Number.isInteger(value)) value = Number(value.toPrecision(EXCEL_DIGITS));
  if (style?.kind !== 'fixed') return plainNumber(value);
  let text = plainNumber(value);
  if (style.decimals > 0 && style.decimals <= 20) {
    const fixed = value.toFixed(style.decimals);
    if (Number(fixed) === value) text = fixed;
  }
  return padInteger(text, style.integerDigits);
}

/** `text` (a plain number) with its integer part padded with zeros to `digits`. */
function padInteger(text: string, digits: number): string {
  const sign = text.startsWith('-') ? '-' : '';
  const point = text.indexOf('.');
  const integer = text.slice(sign.length, point === -1 ? text.length : point);
  if (integer.length >= digits) return text;
  return sign + integer.padStart(digits, '0') + (point === -1 ? '' : text.slice(point));
}

/** A number without exponent: integers through BigInt, others from their shortest round-trip form. */
export function plainNumber(value: number): string {
  if (Number.isInteger(value)) return BigInt(value).toString();
  const shortest = String(value);
  const exponent = shortest.indexOf('e');
  if (exponent === -1) return shortest;
  // Only very small or very large non-integers get here (1.5e-7): move the point by hand.
  const sign = shortest.startsWith('-') ? '-' : '';
  const mantissa = shortest.slice(sign.length, exponent);
  const power = Number(shortest.slice(exponent + 1));
  const digits = mantissa.replace('.', '');
  const point = (mantissa.indexOf('.') === -1 ? mantissa.length : mantissa.indexOf('.')) + power;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  return `${sign}${digits.padEnd(point, '0').slice(0, point)}${digits.length > point ? `.${digits.slice(point)}` : ''}`;
}

/**
 * An Excel date serial as ISO 8601, as its format shows it: `2026-05-14` for a date format,
 * `2026-05-14T10:30:00` for a date and time (no zone: a workbook's times are wall-clock times),
 * `10:30:00` for a time of day only.
 */
function dateText(serial: number, style: { hasDate: boolean; hasTime: boolean; elapsed?: true }, date1904: boolean): string {
  if (style.elapsed) return durationText(serial);
  // Serials before 1900-03-01 count Excel's phantom 1900-02-29: one day more.
  const days = !date1904 && serial < 61 ? serial + 1 : serial;
  const ms = Math.round(((date1904 ? EPOCH_1904_MS : EPOCH_1900_MS) + days * MS_PER_DAY) / 1000) * 1000;
  const iso = new Date(ms).toISOString();
  if (!style.hasDate && serial < 1) return iso.slice(11, 19);
  // A time the format hides (a date typed with NOW()) is not part of what the sheet shows.
  if (!style.hasTime) return iso.slice(0, 10);
  return iso.slice(0, 19);
}

/** A duration in days as hours, minutes and seconds, the hours past 24 as they are: 1.5 is `36:00:00`. */
function durationText(days: number): string {
  const seconds = Math.round(Math.abs(days) * 86_400);
  const two = (value: number) => String(value).padStart(2, '0');
  const text = `${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`;
  return days < 0 ? `-${text}` : text;
}

const ESCAPE = /_x([0-9A-Fa-f]{4})_/g;

/**
 * A string cell's text with Excel's `_xHHHH_` escapes decoded: Excel writes characters XML
 * cannot hold (a carriage return: `_x000D_`) that way, and a literal `_x` as `_x005F_x`.
 */
export function unescapeText(text: string): string {
  return text.includes('_x') ? text.replace(ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))) : text;
}
