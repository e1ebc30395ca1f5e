import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eanNumber, sendJson } from '../support/products.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };

let counter = 0;
/** A fresh valid EAN per call, so tests do not share products. */
const freshEan = () => eanNumber((counter += 1), '401');

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  owner = await ctx.createAccount();
});
afterAll(async () => ctx?.close());

const send = (method: 'PUT' | 'PATCH', url: string, payload: unknown) => sendJson(ctx.app, owner.key, method, url, payload);

/** The product under the EAN once the PATCH's UPDATE has found the old one: null, or another one created in its place. */
interface Replacement {
  name: string;
  price: string | null;
  currency: string | null;
}

/**
 * Sends `patch` for the product `ean` while another session deletes that product and, when
 * `replacement` is given, creates another under the same EAN (as a DELETE and a PUT of a client
 * racing the PATCH do). Both commit while the PATCH's UPDATE waits for the row it found, so the
 * UPDATE finds it gone and any statement the PATCH runs after it sees the replacement.
 */
async function patchWhileReplaced(ean: string, patch: unknown, replacement: Replacement | null): Promise<LightMyRequestResponse> {
  const writer = await ctx.db.connect();
  try {
    await writer.query('BEGIN');
    await writer.query('DELETE FROM products WHERE account_id = $1 AND ean = $2', [owner.id, ean]);
    if (replacement) {
      await writer.query('INSERT INTO products (account_id, ean, name, price, currency) VALUES ($1, $2, $3, $4, $5)', [
        owner.id,
        ean,
        replacement.name,
        replacement.price,
        replacement.currency,
      ]);
    }
    const { rows } = await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const patching = send('PATCH', `/v1/products/${ean}`, patch);
    await waitFor('the PATCH to wait for the deleted product', async () => {
      const waiting = await ctx.db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [rows[0]!.pid]);
      return waiting.rows.length > 0 ? true : undefined;
    }, 10_000);
    await writer.query('COMMIT');
    return await patching;
  } finally {
    await writer.query('ROLLBACK').catch(() => {});
    writer.release();
  }
}

async function createProduct(body: Record<string, unknown>): Promise<string> {
  const ean = freshEan();
  const response = await send('PUT', `/v1/products/${ean}`, { ...body, ean });
  expect(response.statusCode, response.body).toBe(201);
  return ean;
}

describe('PATCH /v1/products/{ean} racing a DELETE and a PUT of the same EAN', () => {
  it.each([
    ['stock', { stock: 1 }],
    ['name (with its search row, in one transaction)', { name: 'Patched name' }],
  ])('patches the product created again by the PUT, as if it came after both: %s', async (_field, patch) => {
    const ean = await createProduct({ name: 'Before' });

    const response = await patchWhileReplaced(ean, patch, { name: 'no price', price: null, currency: null });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ ean, name: 'no price', price: null, currency: null, ...patch });
    const { rows } = await ctx.db.query('SELECT name, stock FROM products WHERE account_id = $1 AND ean = $2', [owner.id, ean]);
    expect(rows).toEqual([{ name: 'no price', stock: null, ...patch }]);
  });

  it('answers 422 when the product created again has no currency for the price the PATCH sets', async () => {
    const ean = await createProduct({ name: 'Priced', price: '1.50', currency: 'EUR' });

    const response = await patchWhileReplaced(ean, { price: '2.00' }, { name: 'no price', price: null, currency: null });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: 'The currency field is required when price is set.' });
  });

  it('answers 404 when the product is deleted and not created again', async () => {
    const ean = await createProduct({ name: 'Deleted' });

    const response = await patchWhileReplaced(ean, { stock: 1 }, null);
    expect(response.statusCode, response.body).toBe(404);
    expect(response.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'Product not found' });
  });
});
