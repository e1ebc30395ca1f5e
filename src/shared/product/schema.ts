import { z } from 'zod';
import { hasGtinShape, isValidGtin } from './gtin.js';

/**
 * The product schema (API.md §3), shared by the HTTP API and the import worker so that a CSV row
 * that imports is exactly a body that POSTs. Each rule carries a stable `code` for the row report.
 */

const MAX_INT32 = 2_147_483_647;
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const PRICE_PATTERN = /^\d{1,15}(?:\.\d{1,4})?$/;

/** The report codes a product field problem can carry. */
export type FieldErrorCode =
  | 'REQUIRED'
  | 'INVALID_EAN'
  | 'INVALID_CHECK_DIGIT'
  | 'TOO_LONG'
  | 'INVALID_PRICE'
  | 'INVALID_CURRENCY'
  | 'INVALID_STOCK'
  | 'INVALID_URL'
  | 'INVALID_ATTRIBUTES';

const rule = (code: FieldErrorCode, message: string) => ({ error: message, params: { code } });

const requiredText = (label: string, max: number) =>
  z
    .string({ error: `The ${label} field is required.` })
    .refine((value) => value.trim().length > 0, rule('REQUIRED', `The ${label} field is required.`))
    .refine((value) => value.length <= max, rule('TOO_LONG', `The ${label} must be at most ${max} characters.`));

const optionalText = (label: string, max: number) =>
  z
    .string()
    .refine((value) => value.length <= max, rule('TOO_LONG', `The ${label} must be at most ${max} characters.`))
    .nullish();

export const eanSchema = z
  .string({ error: 'The EAN field is required.' })
  .refine((value) => value.length > 0, rule('REQUIRED', 'The EAN field is required.'))
  .refine((value) => value.length === 0 || hasGtinShape(value), rule('INVALID_EAN', 'The EAN must be 8, 12, 13 or 14 digits.'))
  .refine((value) => !hasGtinShape(value) || isValidGtin(value), rule('INVALID_CHECK_DIGIT', 'The EAN check digit is invalid.'));

export const priceSchema = z
  .string()
  .refine(
    (value) => PRICE_PATTERN.test(value),
    rule('INVALID_PRICE', 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9.99".'),
  );

export const currencySchema = z
  .string()
  .transform((value) => value.toUpperCase())
  .refine((value) => CURRENCIES.has(value), rule('INVALID_CURRENCY', 'The currency must be an ISO 4217 code such as EUR.'));

export const stockSchema = z
  .number()
  .refine(
    (value) => Number.isInteger(value) && value >= 0 && value <= MAX_INT32,
    rule('INVALID_STOCK', `The stock must be a whole number from 0 to ${MAX_INT32}.`),
  );

export const imageUrlSchema = z.string().refine((value) => {
  if (value.length > 2048) return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}, rule('INVALID_URL', 'The image URL must be an http or https URL.'));

export const attributesSchema = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean()], {
    error: 'The attributes must be a flat object of string, number or boolean values.',
  }),
);

/** A stock count written as text in a CSV cell: digits only, then the same range as the API. */
export const stockTextSchema = z
  .string()
  .refine(
    (value) => /^\d{1,10}$/.test(value) && Number(value) <= MAX_INT32,
    rule('INVALID_STOCK', `The stock must be a whole number from 0 to ${MAX_INT32}.`),
  )
  .transform(Number);

const requireCurrencyWithPrice = (
  product: { price?: string | null; currency?: string | null },
  ctx: z.RefinementCtx,
) => {
  if (product.price != null && product.currency == null) {
    ctx.addIssue({
      code: 'custom',
      path: ['currency'],
      message: 'The currency field is required when price is set.',
      params: { code: 'REQUIRED' },
    });
  }
};

const fields = {
  ean: eanSchema,
  name: requiredText('name', 500),
  brand: optionalText('brand', 500),
  category: optionalText('category', 500),
  description: optionalText('description', 10_000),
  price: priceSchema.nullish(),
  currency: currencySchema.nullish(),
  image_url: imageUrlSchema.nullish(),
  attributes: attributesSchema.optional(),
};

/** A product as written by a client; `null` clears an optional field. */
export const productInputSchema = z
  .object({ ...fields, stock: stockSchema.nullish() })
  .superRefine(requireCurrencyWithPrice);

/**
 * A product as read from one CSV row: the same rules as {@link productInputSchema}, with the stock
 * as text. With `nameRequired: false` (mode=update) a row may leave the name out, but not blank.
 */
export function productRowSchema(options: { nameRequired: boolean }) {
  return z
    .object({
      ...fields,
      name: options.nameRequired ? fields.name : fields.name.optional(),
      stock: stockTextSchema.nullish(),
    })
    .superRefine(requireCurrencyWithPrice);
}

export type ProductInput = z.infer<typeof productInputSchema>;

/** One field problem of a product, with its report code. */
export interface ProductFieldProblem {
  field: string;
  code: string;
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

function issueCode(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom') return String(issue.params?.code ?? 'INVALID_VALUE');
  if (issue.code === 'invalid_type') return issue.input === undefined ? 'REQUIRED' : 'INVALID_TYPE';
  if (issue.code === 'too_big') return 'TOO_LONG';
  return 'INVALID_VALUE';
}
