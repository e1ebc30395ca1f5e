import { z } from 'zod';
import { answeredInstant } from '../instant.js';

const attributeValue = z.union([z.string(), z.number(), z.boolean()]);

/**
 * The product resource as the API returns it (API.md §3): the response schema of every product
 * route, and the type the queries return.
 */
export const productResourceSchema = z
  .object({
    ean: z.string().meta({ description: 'GTIN-8, -12, -13 or -14', example: '4006381333931' }),
    name: z.string(),
    brand: z.string().nullable(),
    category: z.string().nullable(),
    description: z.string().nullable(),
    price: z.string().nullable().meta({ description: 'Decimal string with the scale it was given', example: '1.50' }),
    currency: z.string().nullable().meta({ description: 'ISO 4217, upper case', example: 'EUR' }),
    stock: z.number().int().nullable(),
    image_url: z.string().nullable(),
    attributes: z.record(z.string(), attributeValue).meta({ description: 'Flat object of string, number or boolean values' }),
    created_at: answeredInstant().meta({ description: 'ISO 8601 UTC' }),
    updated_at: answeredInstant().meta({ description: 'ISO 8601 UTC; changes with every write' }),
    derived: z
      .object({
        gtin14: z.string().nullable().meta({ description: 'The EAN left-padded to 14 digits' }),
        check_digit_valid: z.boolean().nullable(),
        gs1_prefix: z.string().nullable(),
        gs1_prefix_country: z.string().nullable().meta({ description: 'GS1 Member Organisation or use of the prefix' }),
        derived_at: answeredInstant().meta({ description: 'ISO 8601 UTC: when an enrichment last derived these' }),
      })
      .nullable()
      .meta({ description: 'Local derivations written by enrichment jobs; null until the product is enriched' }),
  })
  .meta({ id: 'Product' });

export type ProductResource = z.infer<typeof productResourceSchema>;

/**
 * Fields of the product resource a client cannot write: a body may carry them (a product read and
 * written back does), and they are ignored. Any other name the product does not have is refused.
 */
export const PRODUCT_READ_ONLY_FIELDS: readonly string[] = ['created_at', 'updated_at', 'derived'];
