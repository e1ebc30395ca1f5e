/**
 * The product's own fields as CSV columns, in the order imports document them and exports write
 * them (API.md §3). Attributes and timestamps are not among them.
 */
export const PRODUCT_COLUMNS = [
  'ean',
  'name',
  'brand',
  'category',
  'description',
  'price',
  'currency',
  'stock',
  'image_url',
] as const;
export type ProductColumn = (typeof PRODUCT_COLUMNS)[number];
