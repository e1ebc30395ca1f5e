import { gunzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { queuePrefix } from '../../src/shared/queues.js';
import { deleteKeys } from '../../src/shared/redis-connection.js';
import type { TestContext } from './test-context.js';

/** A product row to seed straight into the catalog. */
export interface SeedProduct {
  ean: string;
  name: string;
  brand?: string | null;
  category?: string | null;
  description?: string | null;
  price?: string | null;
  currency?: string | null;
  stock?: number | null;
  image_url?: string | null;
  attributes?: Record<string, string | number | boolean>;
  updated_at?: string;
}

/** Inserts products into the account's catalog (bypassing the import, to set up a state). */
export async function seedProducts(ctx: TestContext, accountId: string, products: SeedProduct[]): Promise<void> {
  await ctx.db.query(
    `INSERT INTO products (account_id, ean, name, brand, category, description, price, currency, stock, image_url,
                           attributes, updated_at)
     SELECT $1, p.ean, p.name, p.brand, p.category, p.description, p.price::numeric, p.currency, p.stock, p.image_url,
            coalesce(p.attributes, '{}'::jsonb), coalesce(p.updated_at, now())
     FROM jsonb_to_recordset($2::jsonb) AS p(ean text, name text, brand text, category text, description text,
       price text, currency text, stock integer, image_url text, attributes jsonb, updated_at timestamptz)`,
    [accountId, JSON.stringify(products)],
  );
}

/** POST /v1/exports with `body`. */
export function requestExport(
  ctx: TestContext,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ method: 'POST', url: '/v1/exports', headers: { 'x-api-key': key, ...headers }, payload: body as object });
}

/** Starts an export and waits for it to end; returns the job resource. */
export async function runExportJob(ctx: TestContext, key: string, body: unknown): Promise<JobResource> {
  const response = await requestExport(ctx, key, body);
  if (response.statusCode !== 202) throw new Error(`export: ${response.statusCode} ${response.body}`);
  return ctx.waitForJob(key, response.json<{ id: string }>().id);
}

/** Downloads a job's result; the body as text (gunzipped when `gzip`). */
export async function downloadResult(
  ctx: TestContext,
  key: string,
  jobId: string,
  gzip = false,
): Promise<{ response: LightMyRequestResponse; text: string }> {
  const response = await ctx.get(key, `/v1/jobs/${jobId}/result`);
  const text = gzip ? gunzipSync(response.rawPayload).toString('utf8') : response.body;
  return { response, text };
}

/** Parses CSV text (RFC 4180, as PostgreSQL and the exporter write it) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += char;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

/** CSV rows as objects keyed by the header, sorted by EAN. */
export function csvRecords(text: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(text);
  return rows
    .map((cells) => Object.fromEntries(header!.map((name, index) => [name, cells[index]!])))
    .sort((a, b) => (a.ean! < b.ean! ? -1 : 1));
}

/**
 * Deletes every Redis key of the context's queue prefix, as a FLUSHALL would for this test file
 * alone (the other files share the Redis, each under its own prefix). Returns how many went.
 */
export async function deleteQueueKeys(ctx: TestContext): Promise<number> {
  return deleteKeys(ctx.redis, `${queuePrefix(ctx.config)}:*`);
}
