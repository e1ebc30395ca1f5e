import { once } from 'node:events';
import { gtinCheckDigit } from '../../src/shared/product/gtin.js';
import type { TestContext } from './test-context.js';
import type { ProductResource } from '../../src/shared/product/product-queries.js';

/** One entry of a job's per-row report, as GET /v1/jobs/{id}/errors returns it. */
export interface ReportEntry {
  row: number;
  ean: string | null;
  field: string | null;
  code: string;
  message: string;
}

/** A valid EAN-13 (correct GS1 check digit) made from `n`, under the 200 in-store prefix. */
export function ean13(n: number): string {
  const body = `200${String(n).padStart(9, '0')}`;
  return body + String(gtinCheckDigit(body));
}

/** The same EAN with a wrong check digit. */
export function withBadCheckDigit(ean: string): string {
  const last = Number(ean.at(-1));
  return ean.slice(0, -1) + String((last + 1) % 10);
}

/** One CSV cell, quoted when it holds the delimiter, a quote or a line break. */
function cell(value: string, delimiter: string): string {
  return value.includes(delimiter) || /["\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A CSV text from rows of cells (the first row is the header), one line per row, ending in a newline. */
export function toCsv(rows: string[][], delimiter = ','): string {
  return rows.map((row) => row.map((value) => cell(value, delimiter)).join(delimiter)).join('\n') + '\n';
}

/** Every entry of a job's report, following `next_cursor` pages of `limit`. */
export async function reportOf(ctx: TestContext, key: string, jobId: string, limit = 500): Promise<ReportEntry[]> {
  const entries: ReportEntry[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await ctx.get(key, `/v1/jobs/${jobId}/errors?limit=${limit}${query}`);
    if (response.statusCode !== 200) throw new Error(`errors: ${response.statusCode} ${response.body}`);
    const page = response.json<{ data: ReportEntry[]; next_cursor: string | null }>();
    entries.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return entries;
}

/** A product row as stored, with price as text (its scale kept) and updated_at as a Date. */
export type StoredProduct = Omit<ProductResource, 'created_at' | 'updated_at'> & { updated_at: Date };

/** The account's products straight from the database, by EAN. */
export async function storedProducts(ctx: TestContext, accountId: string): Promise<StoredProduct[]> {
  const { rows } = await ctx.db.query<StoredProduct>(
    `SELECT ean, name, brand, category, description, price::text AS price, currency, stock, image_url,
            attributes, updated_at
     FROM products WHERE account_id = $1 ORDER BY ean`,
    [accountId],
  );
  return rows;
}

/**
 * Waits until the API's Redis connection is ready: until then POST /v1/imports answers 503
 * (it refuses uploads it could not queue), which a test's first upload can hit on a busy machine.
 */
export async function untilQueueReady(ctx: TestContext): Promise<void> {
  if (ctx.redis.status !== 'ready') await once(ctx.redis, 'ready');
}
