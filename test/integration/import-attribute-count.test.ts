import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A product has at most 1,000 attribute names: the API refuses a body of more and a PATCH that
// merges past them, and an import refuses a row whose merge with the stored product would.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const FULL = ean13(1);
const SMALL = ean13(2);
const NEW = ean13(3);
const TOO_MANY = {
  field: 'attributes',
  code: 'INVALID_ATTRIBUTES',
  message: 'The attributes must have at most 1000 names.',
};

/** 1,000 attributes a0 … a999. */
const THOUSAND = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`a${i}`, `v${i}`]));

/** An account whose FULL product has 1,000 attributes (PUT through the API) and SMALL one. */
async function accountWithFullProduct() {
  const account = await ctx.createAccount();
  const full = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${FULL}`, { name: 'Full', attributes: THOUSAND });
  expect(full.statusCode, full.body).toBe(201);
  const small = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${SMALL}`, { name: 'Small', attributes: { color: 'red' } });
  expect(small.statusCode, small.body).toBe(201);
  return account;
}

const attributesOf = async (accountId: string) =>
  Object.fromEntries((await storedProducts(ctx, accountId)).map((product) => [product.ean, product.attributes]));

describe('import of attributes past 1,000 names', () => {
  it('refuses an attribute column that would take a stored product past 1,000 names (update, abort)', async () => {
    const account = await accountWithFullProduct();
    const before = await storedProducts(ctx, account.id);
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'extra'], [FULL, 'x'], [SMALL, 'y']]), { mode: 'update' });
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: FULL, ...TOO_MANY }]);
    expect(await storedProducts(ctx, account.id)).toEqual(before);
  });

  it('reports that row and writes the others under on_error=skip (update)', async () => {
    const account = await accountWithFullProduct();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'extra'], [FULL, 'x'], [SMALL, 'y']]), {
      mode: 'update',
      on_error: 'skip',
    });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_updated: 1 });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: FULL, ...TOO_MANY }]);
    const attributes = await attributesOf(account.id);
    expect(attributes[FULL]).toEqual(THOUSAND);
    expect(attributes[SMALL]).toEqual({ color: 'red', extra: 'y' });
    // The product still PUTs back as GET returns it.
    const product = (await ctx.get(account.key, `/v1/products/${FULL}`)).json<Record<string, unknown>>();
    const put = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${FULL}`, { name: product.name, attributes: product.attributes });
    expect(put.statusCode, put.body).toBe(200);
  });

  it('counts the merge as it is: a name the row removes makes room, a name the product has takes none', async () => {
    const account = await accountWithFullProduct();
    const csv = toCsv([['ean', 'a0', 'a1', 'extra'], [FULL, '', 'new value', 'x']]);
    const job = await ctx.importCsv(account.key, csv, { mode: 'update' });
    expect(job.status, JSON.stringify(job)).toBe('completed');
    expect(job.progress).toMatchObject({ rows_failed: 0, rows_updated: 1 });
    const { a0: _removed, ...kept } = THOUSAND;
    expect((await attributesOf(account.id))[FULL]).toEqual({ ...kept, a1: 'new value', extra: 'x' });
  });

  it('refuses the same through the attributes JSON column with upsert, and still creates new EANs', async () => {
    const account = await accountWithFullProduct();
    // SMALL is unchanged (an empty JSON cell changes nothing): the worker takes it out of its
    // chunk, and the rest is merged one row at a time (an upsert's merge of a partial chunk).
    const csv = toCsv([
      ['ean', 'name', 'attributes'],
      [SMALL, 'Small', ''],
      [FULL, 'Full', '{"extra":"x"}'],
      [NEW, 'New', '{"color":"blue"}'],
    ]);
    const aborted = await ctx.importCsv(account.key, csv);
    expect(aborted.status).toBe('failed');
    expect(await reportOf(ctx, account.key, aborted.id)).toEqual([{ row: 2, ean: FULL, ...TOO_MANY }]);
    expect((await storedProducts(ctx, account.id)).map((product) => product.ean)).toEqual([FULL, SMALL]);

    const skipped = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(skipped.status).toBe('completed');
    expect(skipped.progress).toMatchObject({ rows_failed: 1, rows_created: 1, rows_updated: 0, rows_unchanged: 1 });
    expect(await reportOf(ctx, account.key, skipped.id)).toEqual([{ row: 2, ean: FULL, ...TOO_MANY }]);
    expect(await attributesOf(account.id)).toEqual({ [FULL]: THOUSAND, [SMALL]: { color: 'red' }, [NEW]: { color: 'blue' } });
  });

  it("keeps the refused row's cells in errors.csv, and a dry run counts it as failed", async () => {
    const account = await accountWithFullProduct();
    const csv = toCsv([['ean', 'name', 'extra'], [FULL, 'Full', 'x'], [NEW, 'New', 'y']]);
    const dry = await ctx.importCsv(account.key, csv, { on_error: 'skip', dry_run: 'true' });
    expect(dry.progress).toMatchObject({ rows_failed: 1, rows_created: 1 });
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job.progress).toMatchObject({ rows_failed: 1, rows_created: 1 });
    const errors = await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`);
    expect(errors.statusCode).toBe(200);
    expect(errors.body).toContain(`${FULL},Full,x,1,attributes,INVALID_ATTRIBUTES,The attributes must have at most 1000 names.`);
  });
});
