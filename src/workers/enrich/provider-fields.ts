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

/** The product object of a 200 answer: the body itself, or `product`, or the first of `products`/`items`. */
function productObject(body: Json): Json | null {
  if (isObject(body.product)) return body.product;
  for (const key of ['products', 'items']) {
    const list = body[key];
    if (Array.isArray(list)) return isObject(list[0]) ? list[0] : null;
  }
  return body;
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
  if (trimmed === '' || trimmed.length > MAX_LENGTH[field] || !storable(trimmed)) return undefined;
  if (field === 'image_url' && !imageUrlSchema.safeParse(trimmed).success) return undefined;
  return trimmed;
}

/**
 * Maps the provider's product JSON (an object: the client fails an answer that is not one) onto
 * our fields. A field the provider did not return, or returned empty or invalid for our schema
 * (too long, not an http(s) URL, text PostgreSQL cannot store), is left out, so it is never
 * touched. An object without a product in it (`{"products": []}`) fills nothing. `attributes` is taken when it is a flat object of
 * string, number or boolean, without the names or values PostgreSQL cannot store.
 */
export function mapProviderProduct(body: Record<string, unknown>): ProviderFields {
  const product = productObject(body);
  if (!product) return {};
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
    // Names and values PostgreSQL cannot store (and the name no JSON body may carry) are left out
    // one by one, before the object is checked as a whole: one bad value must not lose the others.
    const kept = Object.entries(product.attributes).filter(
      ([name, value]) => name !== '__proto__' && storable(name) && (typeof value !== 'string' || storable(value)),
    );
    const attributes = attributesSchema.safeParse(Object.fromEntries(kept));
    if (attributes.success && kept.length > 0) fields.attributes = attributes.data;
  }
  return fields;
}
