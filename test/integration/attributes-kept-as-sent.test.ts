import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Attribute values are kept with their JSON type and as written, and one attribute name is one
// name: through the API and through an import alike (README: Products API, Import behaviour).

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

let counter = 0;
const freshEan = () => ean13((counter += 1));

/** Sends `body` as the JSON text given, so its number literals reach the API as written. */
const sendRaw = (key: string, method: 'POST' | 'PUT' | 'PATCH', url: string, body: string) =>
  ctx.app.inject({ method, url, headers: { 'x-api-key': key, 'content-type': 'application/json' }, payload: body });

const attributesOf = async (accountId: string, ean: string) =>
  (await storedProducts(ctx, accountId)).find((product) => product.ean === ean)?.attributes;

const GROESSE = 'Größe';
const GROESSE_NFD = 'Gro\u0308ße';

const changed = (name: string, literal: string, stored: string) =>
  `The attribute '${name}' is the number ${literal}, which cannot be stored exactly (it would become ${stored}); send it as a string to keep it as written.`;
const tooLarge = (name: string, literal: string) =>
  `The attribute '${name}' is the number ${literal}, which is too large to be stored as a number; send it as a string to keep it as written.`;

/** Literals no double holds as written, and the message naming the attribute `n`. */
const INEXACT: Array<[string, string]> = [
  ['9007199254740993', changed('n', '9007199254740993', '9007199254740992')],
  ['12345678901234567890', changed('n', '12345678901234567890', '12345678901234567000')],
  ['1e-400', changed('n', '1e-400', '0')],
  ['-1E-400', changed('n', '-1E-400', '0')],
  ['0.1000000000000000055511151231257827', changed('n', '0.1000000000000000055511151231257827', '0.1')],
  ['1e400', tooLarge('n', '1e400')],
  ['-2e308', tooLarge('n', '-2e308')],
];

/** Literals a double holds (perhaps written shorter: 1.50 is the value 1.5), and what GET returns. */
const EXACT: Array<[string, number]> = [
  ['9007199254740992', 9007199254740992],
  ['1.50', 1.5],
  ['0.1', 0.1],
  ['-0', 0],
  ['0.000', 0],
  ['1E2', 100],
  ['12.30e1', 123],
  ['1e21', 1e21],
  ['5e-324', 5e-324],
  ['1.7976931348623157e308', 1.7976931348623157e308],
];

describe('a number attribute through the API', () => {
  it.each(INEXACT)('refuses %s with 422 naming the attribute, and stores nothing', async (literal, message) => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    const put = await sendRaw(account.key, 'PUT', `/v1/products/${ean}`, `{"name":"Pen","attributes":{"color":"red","n":${literal}}}`);
    expect(put.statusCode, put.body).toBe(422);
    expect(put.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: message, errors: [{ field: 'attributes.n', message }] });
    const post = await sendRaw(account.key, 'POST', '/v1/products', `{"ean":"${ean}","name":"Pen","attributes":{"n":${literal}}}`);
    expect(post.statusCode, post.body).toBe(422);
    expect(post.json().errors).toEqual([{ field: 'attributes.n', message }]);
    expect(await attributesOf(account.id, ean)).toBeUndefined();
  });

  it('refuses such a number in a PATCH, listed beside the body’s other problems, and leaves the product as it was', async () => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    expect((await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { int: 1 } })).statusCode).toBe(201);
    const patch = await sendRaw(account.key, 'PATCH', `/v1/products/${ean}`, '{"stock":-1,"attributes":{"\\u0069nt":9007199254740993,"b":1e999}}');
    expect(patch.statusCode, patch.body).toBe(422);
    expect(patch.json().errors).toEqual([
      { field: 'stock', message: 'The stock must be a whole number from 0 to 2147483647.' },
      { field: 'attributes.int', message: changed('int', '9007199254740993', '9007199254740992') },
      { field: 'attributes.b', message: tooLarge('b', '1e999') },
    ]);
    expect(await attributesOf(account.id, ean)).toEqual({ int: 1 });
  });

  it('stores a number a double holds, the same digits written as a string, and takes such numbers outside attributes as before (in the ignored derived)', async () => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    const names = EXACT.map((_, index) => `n${index}`);
    const written = EXACT.map(([literal], index) => `"${names[index]}":${literal}`).join(',');
    const body = `{"name":"Pen","derived":{"n":[1e400,9007199254740993]},"attributes":{${written},"s":"9007199254740993"}}`;
    const put = await sendRaw(account.key, 'PUT', `/v1/products/${ean}`, body);
    expect(put.statusCode, put.body).toBe(201);
    const expected = { ...Object.fromEntries(EXACT.map(([, value], index) => [names[index], value])), s: '9007199254740993' };
    expect(put.json().attributes).toEqual(expected);
    expect((await ctx.get(account.key, `/v1/products/${ean}`)).json().attributes).toEqual(expected);
  });
});

describe('a number attribute through an import', () => {
  it.each(INEXACT)('fails the row of an attributes cell holding %s with INVALID_ATTRIBUTES naming the attribute', async (literal, message) => {
    const account = await ctx.createAccount();
    const [pen, ink] = [freshEan(), freshEan()];
    const csv = toCsv([['ean', 'name', 'attributes'], [pen, 'Pen', `{"color":"red","n":${literal}}`], [ink, 'Ink', '{"n":1.50}']]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 1 } });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean: pen, field: 'attributes.n', code: 'INVALID_ATTRIBUTES', message }]);
    expect((await storedProducts(ctx, account.id)).map((product) => [product.ean, product.attributes])).toEqual([[ink, { n: 1.5 }]]);
  });

  it('imports the numbers a double holds, as the API stores them', async () => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    const written = EXACT.map(([literal], index) => `"n${index}":${literal}`).join(',');
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'attributes'], [ean, 'Pen', `{${written}}`]]));
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect(await attributesOf(account.id, ean)).toEqual(Object.fromEntries(EXACT.map(([, value], index) => [`n${index}`, value])));
  });
});

describe('attribute names in Unicode NFC', () => {
  it('keeps one name for a name written decomposed through the API and composed in an import, and PATCHes it either way', async () => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    const put = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { [GROESSE_NFD]: 'M' } });
    expect(put.statusCode, put.body).toBe(201);
    expect(Object.keys(put.json().attributes)).toEqual([GROESSE]);
    const job = await ctx.importCsv(account.key, toCsv([['ean', 'name', GROESSE_NFD], [ean, 'Pen', 'L']]));
    expect(job).toMatchObject({ status: 'completed', progress: { rows_updated: 1 } });
    expect(await attributesOf(account.id, ean)).toEqual({ [GROESSE]: 'L' });
    const patched = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { attributes: { [GROESSE_NFD]: 'XL' } });
    expect(patched.json().attributes).toEqual({ [GROESSE]: 'XL' });
    const removed = await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${ean}`, { attributes: { [GROESSE_NFD]: null } });
    expect(removed.json().attributes).toEqual({});
    const posted = await sendJson(ctx.app, account.key, 'POST', '/v1/products', { ean: freshEan(), name: 'Ink', attributes: { [GROESSE_NFD]: 'S' } });
    expect(posted.json().attributes).toEqual({ [GROESSE]: 'S' });
  });

  it('stores the names of an attributes cell and of a profile’s attributes.<key> in NFC', async () => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { [GROESSE]: 'M', État: 'neuf' } });
    const profile = await sendJson(ctx.app, account.key, 'POST', '/v1/import-profiles', { name: 'nfd', columns: { Zustand: 'attributes.E\u0301tat' } });
    expect(profile.statusCode, profile.body).toBe(201);
    const csv = toCsv([['ean', 'name', 'attributes', 'Zustand'], [ean, 'Pen', JSON.stringify({ [GROESSE_NFD]: 'L' }), 'usé']]);
    const job = await ctx.importCsv(account.key, csv, { profile: 'nfd' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_updated: 1 } });
    expect(await attributesOf(account.id, ean)).toEqual({ [GROESSE]: 'L', État: 'usé' });
  });

  it('refuses a body or an attributes cell that gives one name in both forms', async () => {
    const account = await ctx.createAccount();
    const ean = freshEan();
    const message = `The attribute name '${GROESSE}' is given twice, in two Unicode forms (such as ö composed and as o with a combining diaeresis); attribute names are stored in NFC: give it once.`;
    const put = await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${ean}`, { name: 'Pen', attributes: { [GROESSE]: 'M', [GROESSE_NFD]: 'L' } });
    expect(put.statusCode, put.body).toBe(422);
    expect(put.json().errors).toEqual([{ field: 'attributes', message }]);
    const csv = toCsv([['ean', 'name', 'attributes'], [ean, 'Pen', JSON.stringify({ [GROESSE]: 'M', [GROESSE_NFD]: 'L' })]]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 1, ean, field: 'attributes', code: 'INVALID_ATTRIBUTES', message }]);
    expect(await attributesOf(account.id, ean)).toBeUndefined();
    // In a mapping, two headers sent to one attribute in two forms are aliases of the one stored name.
    const profile = await sendJson(ctx.app, account.key, 'POST', '/v1/import-profiles', {
      name: 'twice',
      columns: { Zustand: 'attributes.État', Condition: 'attributes.E\u0301tat' },
    });
    expect(profile.statusCode, profile.body).toBe(201);
    const mapped = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'Condition'], [ean, 'Pen', 'neu']]), { profile: 'twice' });
    expect(mapped.status).toBe('completed');
    expect(await attributesOf(account.id, ean)).toEqual({ 'État': 'neu' });
  });
});
