import { z } from 'zod';
import {
  attributesProblem,
  longerThan,
  MAX_ATTRIBUTE_NAME_LENGTH,
  MAX_ATTRIBUTE_VALUE_LENGTH,
  MAX_ATTRIBUTES,
  withStoredNames,
} from './attribute-rules.js';
import { hasGtinShape, isValidGtin } from './gtin.js';
import { unstorableText, type UnstorableText } from './storable-text.js';
import { isRowErrorCode, type RowErrorCode } from '../jobs/row-error-codes.js';

/**
 * The product schema (API.md §3), shared by the HTTP API and the import worker so that a CSV row
 * that imports is exactly a body that POSTs. Each rule carries a stable `code` for the row report.
 */

const MAX_INT32 = 2_147_483_647;
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const PRICE_PATTERN = /^\d{1,15}(?:\.\d{1,4})?$/;
/** 15 digits, a point and 4 decimals: the longest price {@link PRICE_PATTERN} admits. */
const MAX_PRICE_LENGTH = 20;
const MAX_IMAGE_URL_LENGTH = 2048;
/** The report codes a product field problem can carry. */
export type FieldErrorCode = Extract<
  RowErrorCode,
  | 'REQUIRED'
  | 'INVALID_EAN'
  | 'INVALID_CHECK_DIGIT'
  | 'TOO_LONG'
  | 'INVALID_PRICE'
  | 'INVALID_CURRENCY'
  | 'INVALID_STOCK'
  | 'INVALID_URL'
  | 'INVALID_TEXT'
  | 'INVALID_ATTRIBUTES'
>;

const rule = (code: FieldErrorCode, message: string) => ({ error: message, params: { code } });

/**
 * The message of a value of the wrong JSON type. A CSV cell is always text (or null for an empty
 * one), so only API bodies meet these; null and a missing value stay "required".
 */
const typeError = (required: string, wrongType: string) => (issue: { input?: unknown }) =>
  issue.input == null ? required : wrongType;

const UNSTORABLE_TEXT: Record<UnstorableText, (label: string) => string> = {
  NUL: (label) => `The ${label} must not hold a NUL character (\\u0000).`,
  surrogate: (label) => `The ${label} must be Unicode text: an unpaired surrogate such as \\ud800 is not allowed.`,
};

/**
 * INVALID_TEXT for text PostgreSQL cannot store. A JSON body never gets here (the API refuses
 * such a body as a whole, see json-body.ts); an import's cell does, as a workbook's `_x0000_`.
 */
const storable = (label: string) => (value: string, context: z.RefinementCtx) => {
  const holds = unstorableText(value);
  if (holds) context.addIssue({ code: 'custom', message: UNSTORABLE_TEXT[holds](label), params: { code: 'INVALID_TEXT' } });
};

const requiredText = (label: string, max: number) =>
  z
    .string({ error: typeError(`The ${label} field is required.`, `The ${label} must be a string.`) })
    .refine((value) => value.trim().length > 0, rule('REQUIRED', `The ${label} field is required.`))
    .refine((value) => !longerThan(value, max), rule('TOO_LONG', `The ${label} must be at most ${max} characters.`))
    .superRefine(storable(label))
    .meta({ minLength: 1, maxLength: max });

const optionalText = (label: string, max: number) =>
  z
    .string({ error: `The ${label} must be a string.` })
    .refine((value) => !longerThan(value, max), rule('TOO_LONG', `The ${label} must be at most ${max} characters.`))
    .superRefine(storable(label))
    .meta({ maxLength: max })
    .nullish();

export const eanSchema = z
  .string({ error: typeError('The EAN field is required.', 'The EAN must be a string of 8, 12, 13 or 14 digits.') })
  .refine((value) => value.length > 0, rule('REQUIRED', 'The EAN field is required.'))
  .refine((value) => value.length === 0 || hasGtinShape(value), rule('INVALID_EAN', 'The EAN must be 8, 12, 13 or 14 digits.'))
  .refine((value) => !hasGtinShape(value) || isValidGtin(value), rule('INVALID_CHECK_DIGIT', 'The EAN check digit is invalid.'))
  .meta({ maxLength: 14, pattern: '^(?:\\d{8}|\\d{12,14})$' });

const PRICE_MESSAGE = 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9.99".';

/** Price as a decimal string (a JSON number would lose the scale: "1.50" must stay "1.50"). */
export const priceSchema = z
  .string({ error: `${PRICE_MESSAGE.slice(0, -1)}, sent as a string.` })
  .refine((value) => PRICE_PATTERN.test(value), rule('INVALID_PRICE', PRICE_MESSAGE))
  .meta({ maxLength: MAX_PRICE_LENGTH, pattern: PRICE_PATTERN.source });

export const currencySchema = z
  .string({ error: 'The currency must be an ISO 4217 code such as EUR.' })
  .transform((value) => value.toUpperCase())
  .refine((value) => CURRENCIES.has(value), rule('INVALID_CURRENCY', 'The currency must be an ISO 4217 code such as EUR.'))
  .meta({ maxLength: 3, pattern: '^[A-Za-z]{3}$' });

const STOCK_MESSAGE = `The stock must be a whole number from 0 to ${MAX_INT32}.`;

export const stockSchema = z
  .number({ error: STOCK_MESSAGE })
  .refine((value) => Number.isInteger(value) && value >= 0 && value <= MAX_INT32, rule('INVALID_STOCK', STOCK_MESSAGE))
  // What the refinement checks, for the OpenAPI document: `.int().min().max()` would check it
  // too, but with zod's own messages and codes instead of INVALID_STOCK and the one message.
  .meta({ type: 'integer', minimum: 0, maximum: MAX_INT32 });

export const imageUrlSchema = z
  .string({ error: 'The image URL must be an http or https URL.' })
  // Stored trimmed, as an import trims its cell: a URL parser ignores the spaces around a URL, so
  // kept they would be dropped by the next import of an export, changing the product.
  .trim()
  // A URL parser takes a NUL in a path (it would encode it), but the URL is stored as written.
  .refine((value) => !value.includes('\u0000'), { ...rule('INVALID_URL', 'The image URL must not hold a NUL character (\\u0000).'), abort: true })
  .refine((value) => {
    if (value.length > MAX_IMAGE_URL_LENGTH) return false;
    try {
      const { protocol } = new URL(value);
      return protocol === 'http:' || protocol === 'https:';
    } catch {
      return false;
    }
  }, rule('INVALID_URL', 'The image URL must be an http or https URL.'))
  .meta({ maxLength: MAX_IMAGE_URL_LENGTH });

const ATTRIBUTES_MESSAGE = 'The attributes must be a flat object of string, number or boolean values.';
const attributeValueSchema = z.union([z.string().meta({ maxLength: MAX_ATTRIBUTE_VALUE_LENGTH }), z.number(), z.boolean()], {
  error: ATTRIBUTES_MESSAGE,
});
const attributeNameSchema = z.string().meta({ maxLength: MAX_ATTRIBUTE_NAME_LENGTH });

/** The attributes' names and values checked together by {@link attributesProblem}. */
const checkAttributes = (attributes: Readonly<Record<string, unknown>>, context: z.RefinementCtx) => {
  const problem = attributesProblem(attributes);
  if (problem) context.addIssue({ code: 'custom', path: problem.path, message: problem.message, params: { code: 'INVALID_ATTRIBUTES' } });
};

/** The attributes with their names as stored, in NFC; checkAttributes has refused a name given twice. */
const storedNames = <T>(attributes: Record<string, T>) => {
  const named = withStoredNames(attributes);
  return named.ok ? named.attributes : attributes;
};

export const attributesSchema = z
  .record(attributeNameSchema, attributeValueSchema, { error: ATTRIBUTES_MESSAGE })
  .superRefine(checkAttributes)
  .transform(storedNames)
  .meta({ maxProperties: MAX_ATTRIBUTES });

/** A stock count written as text in a CSV cell: digits only, then the same range as the API. */
export const stockTextSchema = z
  .string()
  .refine(
    (value) => /^\d{1,10}$/.test(value) && Number(value) <= MAX_INT32,
    rule('INVALID_STOCK', STOCK_MESSAGE),
  )
  .transform(Number);

/** The message of a price left without a currency (API.md §3: currency is required with price). */
export const CURRENCY_REQUIRED_MESSAGE = 'The currency field is required when price is set.';

const priceWithoutCurrency = (product: unknown) => {
  if (typeof product !== 'object' || product === null) return false;
  const { price, currency } = product as { price?: unknown; currency?: unknown };
  return price != null && currency == null;
};

const CURRENCY_REQUIRED_ISSUE = { path: ['currency'], message: CURRENCY_REQUIRED_MESSAGE, params: { code: 'REQUIRED' } };

/**
 * Currency is required with price. `when` runs the check even when other fields failed, so that
 * the `errors` list of a 422 names every problem of the body at once (zod skips object-level
 * checks after a field error by default).
 */
const requireCurrencyWithPrice = [
  (product: unknown) => !priceWithoutCurrency(product),
  { ...CURRENCY_REQUIRED_ISSUE, when: () => true },
] as const;

// Descriptions are for the OpenAPI document (refinements are invisible to JSON Schema); they do
// not change validation.
const fields = {
  ean: eanSchema.meta({ description: '8, 12, 13 or 14 digits with a valid GS1 check digit', example: '4006381333931' }),
  name: requiredText('name', 500).meta({ description: '1 to 500 characters' }),
  brand: optionalText('brand', 500).meta({ description: 'Up to 500 characters' }),
  category: optionalText('category', 500).meta({ description: 'Up to 500 characters' }),
  description: optionalText('description', 10_000).meta({ description: 'Up to 10,000 characters' }),
  price: priceSchema.nullish().meta({
    description: 'Decimal string of at least 0 with up to 4 decimal places, kept with its scale; needs a currency',
    example: '1.50',
  }),
  currency: currencySchema.nullish().meta({ description: 'ISO 4217 code, stored upper-case', example: 'EUR' }),
  stock: stockSchema.nullish().meta({ description: `Whole number from 0 to ${MAX_INT32}` }),
  image_url: imageUrlSchema.nullish().meta({ description: 'An http or https URL, stored without the white space around it' }),
  attributes: attributesSchema.nullish().meta({
    description:
      'Flat object of string, number or boolean values, names stored in Unicode NFC; a number is kept as written, or refused when no double holds it (9007199254740993, 1e400): send it as a string; null: none',
  }),
};

/** The fields a product body may hold (each of its routes' bodies has them all); other names are refused. */
export const PRODUCT_FIELDS: readonly string[] = Object.keys(fields);
const UNKNOWN_FIELDS = 'A name the product does not have is a 422 naming it (other names go in `attributes`); `created_at`, `updated_at` and `derived` are ignored, so a product read can be written back.';
/** A product as written by a client; `null` clears an optional field. */
export const productInputSchema = z
  .object(fields)
  .refine(...requireCurrencyWithPrice);

/**
 * A product as read from one CSV row: the same rules as {@link productInputSchema}, with the stock
 * as text. With `nameRequired: false` (mode=update) a row may leave the name out, but not blank.
 * With `currencyWithPrice: false` a price without a currency passes: for a file without a currency
 * column whose rows are merged with stored products, where the merge checks that rule against the
 * stored currency.
 */
export function productRowSchema(options: { nameRequired: boolean; currencyWithPrice?: boolean }) {
  const row = z.object({
    ...fields,
    name: options.nameRequired ? fields.name : fields.name.optional(),
    // Same key as in `fields`, so the stock keeps its place in the field order of the report.
    stock: stockTextSchema.nullish(),
  });
  return options.currencyWithPrice === false ? row : row.refine(...requireCurrencyWithPrice);
}

export type ProductInput = z.infer<typeof productInputSchema>;

/** POST /v1/products: a whole product, the EAN included. */
export const productCreateBodySchema = productInputSchema.meta({
  id: 'ProductCreate',
  description: `A product as written by a client; null clears an optional field. ${UNKNOWN_FIELDS}`,
});

/** PUT /v1/products/{ean}: a whole product; the EAN comes from the path and may be repeated in the body. */
export const productReplaceBodySchema = z
  .object({ ...fields, ean: fields.ean.optional() })
  .refine(...requireCurrencyWithPrice)
  .meta({
    id: 'ProductReplace',
    description: `The whole product; fields left out are cleared. The EAN is taken from the path; a different one in the body is a 422. ${UNKNOWN_FIELDS}`,
  });

/**
 * PATCH /v1/products/{ean}: only the fields given change. Attributes are merged key by key (a null
 * value removes that key). Whether a price ends up with a currency depends on the stored product,
 * so that rule is checked by the update itself; here only a patch that clears the currency while
 * setting a price is refused.
 */
export const productPatchBodySchema = z
  .object({
    ean: fields.ean.optional(),
    name: fields.name.optional(),
    brand: fields.brand,
    category: fields.category,
    description: fields.description,
    price: fields.price,
    currency: fields.currency,
    stock: fields.stock,
    image_url: fields.image_url,
    attributes: z
      .record(attributeNameSchema, attributeValueSchema.nullable(), { error: ATTRIBUTES_MESSAGE })
      .superRefine(checkAttributes)
      .transform(storedNames)
      .nullish()
      .meta({
        description:
          'Merged into the stored attributes (names in Unicode NFC, numbers as for PUT); a null value removes that key, and null for the whole object removes them all',
      }),
  })
  .refine((patch) => !(patch.price != null && patch.currency === null), CURRENCY_REQUIRED_ISSUE)
  .meta({
    id: 'ProductPatch',
    description: `The fields to change. Attributes are merged key by key; a null attribute value removes that key. ${UNKNOWN_FIELDS}`,
  });

export type ProductPatch = z.infer<typeof productPatchBodySchema>;

/** One field problem of a product, with its report code. */
export interface ProductFieldProblem {
  field: string;
  code: RowErrorCode;
  message: string;
}

/** Turns zod issues of a product into field problems with stable codes, in field order. */
export function productProblems(error: z.ZodError): ProductFieldProblem[] {
  return error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || 'product',
    code: issueCode(issue),
    message: issue.message,
  }));
}

function issueCode(issue: z.core.$ZodIssue): RowErrorCode {
  if (issue.code === 'custom') return isRowErrorCode(issue.params?.code) ? issue.params.code : 'INVALID_VALUE';
  if (issue.code === 'invalid_type') return issue.input === undefined ? 'REQUIRED' : 'INVALID_TYPE';
  if (issue.code === 'too_big') return 'TOO_LONG';
  return 'INVALID_VALUE';
}
