import { unstorableText } from './storable-text.js';

/**
 * The rules a product's attributes follow wherever they are written (API bodies, import rows, the
 * enrichment), and how text is measured against API.md's bounds: in characters.
 */

/** Attribute names are short keys such as `color`; values may be as long as a description. */
export const MAX_ATTRIBUTE_NAME_LENGTH = 200;
export const MAX_ATTRIBUTE_VALUE_LENGTH = 10_000;
/** Names one product's attributes may have: a body of more is refused before it is validated name by name. */
export const MAX_ATTRIBUTES = 1_000;
export const ATTRIBUTE_COUNT_MESSAGE = `The attributes must have at most ${MAX_ATTRIBUTES} names.`;

/**
 * Characters (Unicode code points) in `value`: API.md bounds text in characters, and a character
 * outside the Basic Multilingual Plane (an emoji) is two UTF-16 units. Counted only when the
 * units alone pass the bound, which no character count can.
 */
export function longerThan(value: string, max: number): boolean {
  if (value.length <= max) return false;
  let characters = value.length;
  for (let i = 1; i < value.length && characters > max; i += 1) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && value.charCodeAt(i - 1) >= 0xd800 && value.charCodeAt(i - 1) <= 0xdbff) characters -= 1;
  }
  return characters > max;
}

/** SQL: the number of names of the jsonb object `attributes` (an SQL expression), for the {@link MAX_ATTRIBUTES} bound. */
export const attributeNameCountSql = (attributes: string) => `(SELECT count(*) FROM jsonb_object_keys(${attributes}))`;

/** Whether `attributes` (as sent, unvalidated) has more names than {@link MAX_ATTRIBUTES}. */
export function tooManyAttributes(attributes: unknown): boolean {
  if (typeof attributes !== 'object' || attributes === null) return false;
  let names = 0;
  for (const name in attributes) if (Object.hasOwn(attributes, name) && ++names > MAX_ATTRIBUTES) return true;
  return false;
}

const ATTRIBUTE_NAME_MESSAGE = `Attribute names must be at most ${MAX_ATTRIBUTE_NAME_LENGTH} characters.`;
const ATTRIBUTE_VALUE_MESSAGE = `Attribute values must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters.`;
const UNSTORABLE_MESSAGES = {
  surrogate: 'Attribute names and values must be Unicode text: an unpaired surrogate such as \\ud800 is not allowed.',
  NUL: 'Attribute names and values must not hold a NUL character (\\u0000).',
} as const;
const PROTO_NAME_MESSAGE = "'__proto__' is not allowed as an attribute name.";

/** One attribute problem: the path under `attributes` it is at (the name, for a value) and its message. */
export interface AttributesProblem {
  path: string[];
  message: string;
}

/**
 * The first problem of an attributes object whose values have the right types, or null: more
 * names than a product may have, a name (as stored, in NFC) or value over its length, text
 * PostgreSQL cannot store (a NUL character or an unpaired surrogate, which JSON escapes such as
 * "\u0000" and "\ud800" make, and a workbook's `_x0000_`), the name `__proto__` (no JSON body
 * may carry it), or one name given twice in two Unicode forms. Shared by the API's schemas and the
 * import, so that a row that imports is a body that PUTs; a `null` value (a PATCH's removal) is
 * passed over.
 */
export function attributesProblem(attributes: Readonly<Record<string, unknown>>): AttributesProblem | null {
  let names = 0;
  let renamed = false;
  for (const name in attributes) {
    if (!Object.hasOwn(attributes, name)) continue;
    if (++names > MAX_ATTRIBUTES) return { path: [], message: ATTRIBUTE_COUNT_MESSAGE };
    const stored = storedAttributeName(name);
    renamed ||= stored !== name;
    const nameProblem = attributeNameProblem(stored);
    if (nameProblem) return { path: [], message: nameProblem };
    const valueProblem = attributeValueProblem(attributes[name]);
    if (valueProblem) return { path: [name], message: valueProblem };
  }
  const twice = renamed ? nameGivenTwice(attributes) : null;
  return twice === null ? null : { path: [], message: twice };
}

/** Any UTF-16 unit past ASCII: a name of ASCII alone (most are) is in NFC as it is, without a call to ICU. */
const BEYOND_ASCII = /[\u0080-\uffff]/;

/**
 * An attribute name as it is stored: in Unicode NFC, as an import's header is read, so that
 * `Größe` written with a decomposed `ö` (an o and a combining diaeresis, as macOS often writes)
 * is the `Größe` another client or file sends, not a second name that looks the same.
 */
export const storedAttributeName = (name: string): string => (BEYOND_ASCII.test(name) ? name.normalize('NFC') : name);

/** The message of a name that `attributes` gives twice, in two Unicode forms (see storedAttributeName), or null. */
function nameGivenTwice(attributes: Readonly<Record<string, unknown>>): string | null {
  const seen = new Set<string>();
  for (const name of Object.keys(attributes)) {
    const stored = storedAttributeName(name);
    if (seen.has(stored)) {
      return `The attribute name '${stored}' is given twice, in two Unicode forms (such as ö composed and as o with a combining diaeresis); attribute names are stored in NFC: give it once.`;
    }
    seen.add(stored);
  }
  return null;
}

/**
 * `attributes` with its names as stored (see storedAttributeName): the same object when they
 * already are, else a copy (made with Object.fromEntries, so a name stays an own key whatever it
 * is); the problem when two of its names are one name (see nameGivenTwice).
 */
export function withStoredNames<T>(
  attributes: Record<string, T>,
): { ok: true; attributes: Record<string, T> } | { ok: false; message: string } {
  const names = Object.keys(attributes);
  if (names.every((name) => storedAttributeName(name) === name)) return { ok: true, attributes };
  const twice = nameGivenTwice(attributes);
  if (twice !== null) return { ok: false, message: twice };
  return { ok: true, attributes: Object.fromEntries(names.map((name) => [storedAttributeName(name), attributes[name] as T])) };
}

/** Why an attribute name cannot be stored (too long, `__proto__`, a NUL, not Unicode text), or null. */
export function attributeNameProblem(name: string): string | null {
  if (longerThan(name, MAX_ATTRIBUTE_NAME_LENGTH)) return ATTRIBUTE_NAME_MESSAGE;
  if (name === '__proto__') return PROTO_NAME_MESSAGE;
  const unstorable = unstorableText(name);
  return unstorable ? UNSTORABLE_MESSAGES[unstorable] : null;
}

/** Why an attribute value cannot be stored (a text too long, a NUL, not Unicode text), or null. */
export function attributeValueProblem(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  if (longerThan(value, MAX_ATTRIBUTE_VALUE_LENGTH)) return ATTRIBUTE_VALUE_MESSAGE;
  const unstorable = unstorableText(value);
  return unstorable ? UNSTORABLE_MESSAGES[unstorable] : null;
}

