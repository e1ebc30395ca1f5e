import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { ean13, reportOf, toCsv, untilQueueReady } from '../support/csv.js';
import { sendJson } from '../support/products.js';
import { heldWrite, importAcrossHeldWrite, type HeldWrite } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The rules an import checks against the stored product it merges into (a price needs a currency,
 * at most 1,000 attribute names) hold when another writer (a PATCH, another import) changes that
 * product after the import read it and before it wrote it: here the change is made, uncommitted,
 * before the import starts, and committed once the import waits for it. The import must then judge
 * the row against the product as that writer left it.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { JOB_ATTEMPTS: '1' } });
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const RACED = ean13(1);
const OTHER = ean13(2);

/** An UPDATE of the account's RACED product by another session, made but not committed. */
async function holdUpdate(db: Db, accountId: string, set: string, values: unknown[] = []): Promise<HeldWrite> {
  const holder = await db.connect();
  await holder.query('BEGIN');
  await holder.query(`UPDATE products SET ${set} WHERE account_id = $1 AND ean = $2`, [accountId, RACED, ...values]);
  return heldWrite(db, holder);
}

async function accountWith(products: Array<Record<string, unknown>>) {
  const account = await ctx.createAccount();
  for (const { ean, ...body } of products) {
    const response = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${String(ean)}`, body);
    expect(response.statusCode, response.body).toBe(201);
  }
  return account;
}

const stored = async (accountId: string, ean: string) =>
  (
    await ctx.db.query<{ price: string | null; currency: string | null; names: number }>(
      `SELECT price::text, currency, (SELECT count(*)::int FROM jsonb_object_keys(attributes)) AS names
       FROM products WHERE account_id = $1 AND ean = $2`,
      [accountId, ean],
    )
  ).rows[0];

describe('a stored product changed by another writer while an import merges into it', () => {
  it('refuses a price for a product whose currency was removed meanwhile (file without a currency column)', async () => {
    const account = await accountWith([
      { ean: RACED, name: 'Raced', price: '1.00', currency: 'EUR' },
      { ean: OTHER, name: 'Other', price: '2.00', currency: 'EUR' },
    ]);
    // As a PATCH {"price": null, "currency": null} does.
    const held = await holdUpdate(ctx.db, account.id, 'price = NULL, currency = NULL');
    const csv = Buffer.from(toCsv([['ean', 'price'], [RACED, '5.00'], [OTHER, '6.00']]));
    const job = await importAcrossHeldWrite(ctx, account.key, csv, { mode: 'update', on_error: 'skip' }, held, 'the import to reach the raced product');

    expect(job.status, job.detail ?? '').toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_updated: 1 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 1, ean: RACED, field: 'currency', code: 'REQUIRED', message: 'The currency field is required when price is set.' },
    ]);
    expect(await stored(account.id, RACED)).toEqual({ price: null, currency: null, names: 0 });
    expect(await stored(account.id, OTHER)).toMatchObject({ price: '6.00', currency: 'EUR' });
  });

  it('refuses an attribute that takes a product past 1,000 names when names were added meanwhile', async () => {
    const account = await accountWith([
      { ean: RACED, name: 'Raced', attributes: { color: 'red' } },
      { ean: OTHER, name: 'Other', attributes: { color: 'blue' } },
    ]);
    // 999 more names: the product now has 1,000, the most it may have.
    const more = Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`a${i}`, `v${i}`]));
    const held = await holdUpdate(ctx.db, account.id, 'attributes = attributes || $3::jsonb', [JSON.stringify(more)]);
    const csv = Buffer.from(toCsv([['ean', 'extra'], [RACED, 'x'], [OTHER, 'y']]));
    const job = await importAcrossHeldWrite(ctx, account.key, csv, { mode: 'update', on_error: 'skip' }, held, 'the import to reach the raced product');

    expect(job.status, job.detail ?? '').toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_updated: 1 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 1, ean: RACED, field: 'attributes', code: 'INVALID_ATTRIBUTES', message: 'The attributes must have at most 1000 names.' },
    ]);
    expect(await stored(account.id, RACED)).toMatchObject({ names: 1000 });
    expect(await stored(account.id, OTHER)).toMatchObject({ names: 2 });
  });
});
