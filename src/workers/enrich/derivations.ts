import { gs1PrefixCountry, gs1PrefixOf } from '../../shared/product/gs1-prefixes.js';
import { hasGtinShape, isValidGtin } from '../../shared/product/gtin.js';

/** What an enrichment derives from a product on its own, without the lookup provider. */
export interface LocalDerivations {
  /** The EAN as a GTIN-14 (left-padded with zeros); null when the EAN is not 8, 12, 13 or 14 digits. */
  gtin14: string | null;
  /** Whether the EAN has a GTIN shape and a right GS1 check digit. */
  checkDigitValid: boolean;
  /** The 3-digit GS1 prefix; null for an EAN without a GTIN shape. */
  gs1Prefix: string | null;
  /** Country or use of the GS1 prefix (see gs1-prefixes.ts); null when unallocated or no GTIN shape. */
  gs1PrefixCountry: string | null;
  /** The comparison form of the name: see {@link normalizeText}. */
  nameNormalized: string | null;
  brandNormalized: string | null;
}

/** Every run of white space, including no-break and other Unicode spaces, and zero-width characters. */
const WHITESPACE = /[\s\u200B-\u200D\u2060\uFEFF]+/gu;

/**
 * The comparison form of a name or brand: Unicode NFKC (full-width letters, ligatures and the
 * like folded), white space trimmed and collapsed to single spaces, lower case. Two values that
 * differ only in spacing or casing ("ACME  Foods", "acme foods ") have the same form; the value
 * itself is left as the catalog holds it. Null for a missing or blank value.
 */
function normalizeText(value: string | null): string | null {
  if (value === null) return null;
  const normalized = value.normalize('NFKC').replace(WHITESPACE, ' ').trim().toLowerCase();
  return normalized === '' ? null : normalized;
}

/** The local derivations of a product from its EAN, name and brand. */
export function deriveLocally(product: { ean: string; name: string | null; brand: string | null }): LocalDerivations {
  const shaped = hasGtinShape(product.ean);
  return {
    gtin14: shaped ? product.ean.padStart(14, '0') : null,
    checkDigitValid: isValidGtin(product.ean),
    gs1Prefix: shaped ? gs1PrefixOf(product.ean) : null,
    gs1PrefixCountry: shaped ? gs1PrefixCountry(product.ean) : null,
    nameNormalized: normalizeText(product.name),
    brandNormalized: normalizeText(product.brand),
  };
}
