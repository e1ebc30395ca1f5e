import {
  attributeNameProblem,
  attributeValueProblem,
  longerThan,
  storedAttributeName,
  tooManyAttributes,
} from '../../shared/product/attribute-rules.js';
import { changedNumbers } from '../../shared/product/exact-numbers.js';
import { attributesSchema, imageUrlSchema } from '../../shared/product/schema.js';

/** The product fields the lookup provider can fill. */
export const FILLABLE_FIELDS = ['name', 'brand', 'category', 'description', 'image_url'] as const;
export type FillableField = (typeof FILLABLE_FIELDS)[number];

/** What the provider said about one product, in our field names; a field it did not return is absent. */
export type ProviderFields = Partial<Record<FillableField, string>> & {
  attributes?: Record<string, string | number | boolean>;
};

const MAX_LENGTH: Record<FillableField, number> = {
  name: 500,
  brand: 500,
  category: 500,
  description: 10_000,
  image_url: 2048,
};

/**
 * Where each of our fields is found in the provider's product JSON, first match wins. EAN-lookup
 * services differ in naming (`title` or `name`, `images[0]` or `image_url`), so the usual names
 * are all accepted.
 */
const SOURCES: Record<FillableField, string[]> = {
  name: ['name', 'title', 'product_name'],
  brand: ['brand', 'brand_name', 'manufacturer'],
  category: ['category', 'category_name', 'categoryName'],
  description: ['description'],
  image_url: ['image_url', 'imageUrl', 'image', 'images'],
};

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The product object of a 200 answer: the body itself, or `product`, or the first of
 * `products`/`items`; with its path in the body.
 */
function productObject(body: Json): { product: Json; path: Array<string | number> } | null {
  if (isObject(body.product)) return { product: body.product, path: ['product'] };
  for (const key of ['products', 'items']) {
    const list = body[key];
    if (Array.isArray(list)) return isObject(list[0]) ? { product: list[0], path: [key, 0] } : null;
  }
  return { product: body, path: [] };
}

/** A GTIN written with its leading zeros, or without: `04006381333931` is `4006381333931`. */
const gtin14 = (digits: string) => digits.padStart(14, '0');

/**
 * The EAN the answer says it is for (its product's `ean` or `gtin`, a string or a number) when it
 * is not `asked`, or null: an answer that names no EAN (or an empty one) is taken for the one
 * asked. The same GTIN with more or fewer leading zeros is the same EAN.
 */
export function otherEan(body: Record<string, unknown>, asked: string): string | null {
  const product = productObject(body)?.product;
  if (!product) return null;
  for (const key of ['ean', 'gtin']) {
    const value = product[key];
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    const said = String(value).trim();
    if (said !== '' && !(/^\d{1,14}$/.test(said) && gtin14(said) === gtin14(asked))) return said;
  }
  return null;
}

/**
 * The attribute names whose number JSON.parse changed in the answer's `text` (see
 * changedNumbers: 12345678901234567890 read as 12345678901234567000), under the product at `path`.
 */
function changedAttributeNumbers(text: string, path: ReadonlyArray<string | number>): Set<string | number> {
  const attributesPath = [...path, 'attributes'];
  const under = attributesPath[0] as string;
  // Unbounded: the answer holds at most MAX_ANSWER_BYTES, and a bound could be used up before the product's attributes.
  const changed = changedNumbers(text, { under });
  const within = changed.filter((found) => found.path.length === attributesPath.length + 1 && attributesPath.every((key, index) => found.path[index] === key));
  return new Set(within.map((found) => found.path.at(-1)!));
}

/** Whether PostgreSQL can store `text`: no NUL character, no lone UTF-16 surrogate. */
const storable = (text: string) => !text.includes('\u0000') && text.isWellFormed();

/** A text value of the provider: a string, or a list (first image; categories joined as a path). */
function textOf(field: FillableField, value: unknown): string | undefined {
  let text: unknown = value;
  if (Array.isArray(value)) {
    const strings = value.filter((each): each is string => typeof each === 'string' && each.trim() !== '');
    text = field === 'category' ? strings.join(' > ') : strings[0];
  }
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (trimmed === '' || longerThan(trimmed, MAX_LENGTH[field]) || !storable(trimmed)) return undefined;
  if (field === 'image_url' && !imageUrlSchema.safeParse(trimmed).success) return undefined;
  return trimmed;
}

/**
 * Maps the provider's product JSON (an object: the client fails an answer that is not one, whose
 * `text` it is) onto our fields. A field the provider did not return, or returned empty or invalid
 * for our schema (too long, not an http(s) URL, text PostgreSQL cannot store), is left out, so it
 * is never touched. An object without a product in it (`{"products": []}`) fills nothing.
 * Lengths count characters (code points), as the schema does. `attributes` gives the entries of
 * its object that our schema takes, its names in NFC (see {@link validAttributes}).
 */
export function mapProviderProduct(body: Record<string, unknown>, text?: string): ProviderFields {
  const found = productObject(body);
  if (!found) return {};
  const { product } = found;
  const fields: ProviderFields = {};
  for (const field of FILLABLE_FIELDS) {
    for (const source of SOURCES[field]) {
      const text = textOf(field, product[source]);
      if (text !== undefined) {
        fields[field] = text;
        break;
      }
    }
  }
  if (isObject(product.attributes)) {
    const changed = text === undefined ? new Set<string | number>() : changedAttributeNumbers(text, found.path);
    const attributes = validAttributes(product.attributes, changed);
    if (attributes) fields.attributes = attributes;
  }
  return fields;
}

/**
 * The provider's attributes that our schema takes, one by one, so that one bad value does not
 * lose the others: a value that is not a string, number or boolean (an object, a list, null), a
 * name or value too long or that PostgreSQL cannot store, the name `__proto__`, and a number
 * JSON.parse changed (`changed`, by name) are left out; of two names that are one in NFC, the
 * first listed is kept. Null when none is left, or when there are more names than a product
 * may have (the API takes no such body either).
 */
function validAttributes(attributes: Json, changed: ReadonlySet<string | number>): Record<string, string | number | boolean> | null {
  if (tooManyAttributes(attributes)) return null;
  const kept = new Map<string, string | number | boolean>();
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    if (typeof value === 'number' && changed.has(name)) continue;
    const stored = storedAttributeName(name);
    if (kept.has(stored) || attributeNameProblem(stored) !== null || attributeValueProblem(value) !== null) continue;
    kept.set(stored, value);
  }
  if (kept.size === 0) return null;
  // Every entry passed the rules already: the schema has the last word all the same.
  const parsed = attributesSchema.safeParse(Object.fromEntries(kept));
  return parsed.success ? parsed.data : null;
}
