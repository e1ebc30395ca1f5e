import { MAX_ATTRIBUTES } from '../../shared/product/attribute-rules.js';
import { deriveLocally, type LocalDerivations } from './derivations.js';
import type { ProductWrite, StoredProduct } from './enrich-queries.js';
import { FILLABLE_FIELDS, type ProviderFields } from './provider-fields.js';

const isEmpty = (value: string | null) => value === null || value.trim() === '';

/** True when a lookup could change nothing: every fillable field has a value and nothing may be overwritten. */
export function nothingToFill(product: StoredProduct, overwrite: boolean): boolean {
  return !overwrite && FILLABLE_FIELDS.every((field) => !isEmpty(product[field]));
}

function sameAttributes(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.is(a[key], b[key]));
}

function sameDerivations(product: StoredProduct, derived: LocalDerivations): boolean {
  return (
    product.derived_at !== null &&
    product.gtin14 === derived.gtin14 &&
    product.ean_check_digit_valid === derived.checkDigitValid &&
    product.gs1_prefix === derived.gs1Prefix &&
    product.gs1_prefix_country === derived.gs1PrefixCountry &&
    product.name_normalized === derived.nameNormalized &&
    product.brand_normalized === derived.brandNormalized
  );
}

type Attributes = StoredProduct['attributes'];

/**
 * The product's attributes with the provider's: the names it lacks are added (with `overwrite`,
 * the values of names it has are replaced too). A product has at most 1,000 names: the API
 * refuses more (POST, PUT, a PATCH's merge) and so does an import's merge. When the new names
 * would take the product past that, none of them is added (as many as fit would be whichever
 * the provider happened to list first): the product keeps the names it has, with `overwrite`
 * their values replaced. Its other fields are filled as usual, and nothing fails.
 */
function mergedAttributes(stored: Attributes, offered: Attributes, overwrite: boolean): Attributes {
  const merged = overwrite ? { ...stored, ...offered } : { ...offered, ...stored };
  if (Object.keys(merged).length <= MAX_ATTRIBUTES) return merged;
  if (!overwrite) return stored;
  return Object.fromEntries(Object.entries(stored).map(([name, value]) => [name, Object.hasOwn(offered, name) ? offered[name]! : value]));
}

/**
 * The new state of `product` with what the provider returned (none: local derivations only). A
 * field is filled when it is empty (null or blank), or always with `overwrite`; a field the
 * provider did not return is never touched. Provider attributes add the names the product lacks
 * (with `overwrite`, they also replace the values of names it has), unless that would take it
 * past 1,000 names (see mergedAttributes). Returns null when neither the data nor the
 * derivations would change: nothing to write.
 */
export function enrichProduct(product: StoredProduct, fields: ProviderFields | null, overwrite: boolean): ProductWrite | null {
  const values = {
    name: product.name,
    brand: product.brand,
    category: product.category,
    description: product.description,
    image_url: product.image_url,
    attributes: product.attributes,
  };
  for (const field of FILLABLE_FIELDS) {
    const offered = fields?.[field];
    if (offered !== undefined && (overwrite || isEmpty(values[field]))) values[field] = offered;
  }
  if (fields?.attributes) values.attributes = mergedAttributes(product.attributes, fields.attributes, overwrite);
  const changed =
    FILLABLE_FIELDS.some((field) => values[field] !== product[field]) || !sameAttributes(values.attributes, product.attributes);
  const derivations = deriveLocally({ ean: product.ean, name: values.name, brand: values.brand });
  if (!changed && sameDerivations(product, derivations)) return null;
  return { ean: product.ean, values, derivations, changed };
}
