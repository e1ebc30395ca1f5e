import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The `attributes` column of an import file: one JSON object of attributes per row (what a CSV
// export writes), merged into the product's attributes like attribute columns are.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const PEN = ean13(1);
const INK = ean13(2);

/** An account whose Pen has the attributes color=blue and size=M. */
async function accountWithPen() {
  const account = await ctx.createAccount();
  const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'color', 'size'], [PEN, 'Pen', 'blue', 'M']]));
  expect(job.status).toBe('completed');
  return account;
}

const attributesOf = async (accountId: string, ean: string) =>
  (await storedProducts(ctx, accountId)).find((product) => product.ean === ean)!.attributes;

describe('import attributes column', () => {
  it('stores the JSON object of a header named attributes (any case) with its value types', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([
      ['ean', 'name', ' Attributes '],
      [PEN, 'Pen', '{"color":"red","weight_g":1.5,"organic":true,"note":"a, \\"b\\"\\nc ✓","formula":"=1+1"}'],
      [INK, 'Ink', '{}'],
    ]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_created: 2, rows_failed: 0 });
    const expected = { color: 'red', weight_g: 1.5, organic: true, note: 'a, "b"\nc ✓', formula: '=1+1' };
    expect(await attributesOf(account.id, PEN)).toEqual(expected);
    expect(await attributesOf(account.id, INK)).toEqual({});
    const lookup = await ctx.get(account.key, `/v1/products/${PEN}`);
    expect(lookup.json()).toMatchObject({ attributes: expected });
  });

  it('merges the object over the stored attributes, and counts the same object again as unchanged', async () => {
    const account = await accountWithPen();
    const csv = toCsv([['ean', 'name', 'attributes'], [PEN, 'Pen', '{"color":"red","material":"steel"}']]);
    expect((await ctx.importCsv(account.key, csv)).progress).toMatchObject({ rows_updated: 1, rows_unchanged: 0 });
    expect(await attributesOf(account.id, PEN)).toEqual({ color: 'red', size: 'M', material: 'steel' });
    expect((await ctx.importCsv(account.key, csv)).progress).toMatchObject({ rows_updated: 0, rows_unchanged: 1 });
  });

  it('changes nothing for an empty attributes cell', async () => {
    const account = await accountWithPen();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'attributes'], [PEN, 'Pen', '']]));
    expect(job.progress).toMatchObject({ rows_updated: 0, rows_unchanged: 1 });
    expect(await attributesOf(account.id, PEN)).toEqual({ color: 'blue', size: 'M' });
  });

  it('applies attribute columns over the object: a cell wins and an empty cell removes the name', async () => {
    const account = await accountWithPen();
    const csv = toCsv([
      ['ean', 'name', 'attributes', 'size', 'color'],
      [PEN, 'Pen', '{"size":"S","color":"red","weight_g":2}', 'XL', ''],
    ]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.progress).toMatchObject({ rows_updated: 1 });
    expect(await attributesOf(account.id, PEN)).toEqual({ size: 'XL', weight_g: 2 });
  });

  const NOT_AN_OBJECT = 'The attributes cell must be a JSON object of attributes, such as {"color":"red","size":42}';
  it.each([
    ['invalid JSON', '{color: red}', `${NOT_AN_OBJECT}; it is not valid JSON.`],
    ['an array', '["red"]', `${NOT_AN_OBJECT}.`],
    ['a string', '"red"', `${NOT_AN_OBJECT}.`],
    ['null', 'null', `${NOT_AN_OBJECT}.`],
    ['a nested object', '{"color":"red","dims":{"w":1}}', "The attribute 'dims' must be a string, number or boolean (nested objects, arrays and null are not allowed)."],
    ['an array value', '{"tags":["a"]}', "The attribute 'tags' must be a string, number or boolean (nested objects, arrays and null are not allowed)."],
    ['a null value', '{"color":null}', "The attribute 'color' must be a string, number or boolean (nested objects, arrays and null are not allowed)."],
  ])('reports %s as an INVALID_ATTRIBUTES row error on field attributes', async (_label, cell, message) => {
    const account = await accountWithPen();
    const csv = toCsv([['ean', 'name', 'attributes'], [INK, 'Ink', '{"color":"black"}'], [PEN, 'Pen', cell]]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 2, ean: PEN, field: 'attributes', code: 'INVALID_ATTRIBUTES', message }]);
    expect(await attributesOf(account.id, PEN)).toEqual({ color: 'blue', size: 'M' });
  });

  it.each([
    ['an unpaired surrogate escape', ['attributes'], ['{"k":"\\udc00x"}'], 'attributes.k', 'Attribute names and values must be Unicode text: an unpaired surrogate such as \\ud800 is not allowed.'],
    ['a NUL escape in a value', ['attributes'], ['{"k":"a\\u0000b"}'], 'attributes.k', 'Attribute names and values must not hold a NUL character (\\u0000).'],
    ['a NUL escape in a name', ['attributes'], ['{"k\\u0000":"v"}'], 'attributes', 'Attribute names and values must not hold a NUL character (\\u0000).'],
    ['a value over 10,000 characters', ['note'], ['x'.repeat(10_001)], 'attributes.note', 'Attribute values must be at most 10000 characters.'],
    ['a name over 200 characters', ['attributes'], [JSON.stringify({ ['n'.repeat(201)]: 'v' })], 'attributes', 'Attribute names must be at most 200 characters.'],
    ['more than 1,000 names', ['attributes', 'extra'], [JSON.stringify(Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`a${i}`, 1]))), 'x'], 'attributes', 'The attributes must have at most 1000 names.'],
    ["a '__proto__' name in the object", ['attributes'], ['{"__proto__":"x"}'], 'attributes', "'__proto__' is not allowed as an attribute name."],
  ])('refuses %s as the API does, as a row error that on_error=skip passes over', async (_label, columns, cells, field, message) => {
    const account = await ctx.createAccount();
    const csv = toCsv([['ean', 'name', ...columns], [PEN, 'Pen', ...cells], [INK, 'Ink', ...columns.map(() => '')]]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 1 } });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: PEN, field, code: 'INVALID_ATTRIBUTES', message }]);
    expect((await storedProducts(ctx, account.id)).map((product) => product.ean)).toEqual([INK]);
  });

  it.each([
    ["'__proto__'", '__proto__', "'__proto__' is not allowed as an attribute name. (the column '__proto__')"],
    ['201 characters long', 'n'.repeat(201), `Attribute names must be at most 200 characters. (the column '${'n'.repeat(40)}…')`],
  ])('fails the rows that fill an attribute column named %s, naming the column, and imports the rows that leave it empty', async (_label, column, message) => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', column], [PEN, 'Pen', 'x'], [INK, 'Ink', '']]), { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 1 } });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: PEN, field: 'attributes', code: 'INVALID_ATTRIBUTES', message }]);
    expect((await storedProducts(ctx, account.id)).map((product) => [product.ean, product.attributes])).toEqual([[INK, {}]]);
  });

  it('imports a sparse file of more than 1,000 attribute columns, counting the names each row sets', async () => {
    const account = await ctx.createAccount();
    const columns = Array.from({ length: 1_001 }, (_, index) => `a${index}`);
    const cells = (filled: number) => columns.map((_, index) => (index === filled ? 'v' : ''));
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', ...columns], [PEN, 'Pen', ...cells(0)], [INK, 'Ink', ...cells(1_000)]]));
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    expect(await attributesOf(account.id, INK)).toEqual({ a1000: 'v' });
    const full = await ctx.importCsv(account.key, toCsv([['ean', 'name', ...columns], [PEN, 'Pen', ...columns.map(() => 'v')]]));
    expect(await reportOf(ctx, account.key, full.id)).toEqual([
      { row: 1, ean: PEN, field: 'attributes', code: 'INVALID_ATTRIBUTES', message: 'The attributes must have at most 1000 names.' },
    ]);
  });

  it('imports the other rows under on_error=skip and reports the bad cell next to other problems of its row', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([['ean', 'name', 'attributes'], [INK, 'Ink', '{"color":"black"}'], [PEN, '', '[1]']]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job.status).toBe('completed');
    expect(job.progress).toMatchObject({ rows_created: 1, rows_failed: 1 });
    expect((await reportOf(ctx, account.key, job.id)).map((entry) => [entry.row, entry.field, entry.code])).toEqual([
      [2, 'name', 'REQUIRED'],
      [2, 'attributes', 'INVALID_ATTRIBUTES'],
    ]);
    expect(await attributesOf(account.id, INK)).toEqual({ color: 'black' });
  });
});
