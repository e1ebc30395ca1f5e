import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

const EMPTY = 'A header in columns must not be empty.';
const TOO_LONG = 'A header in columns must be at most 255 characters.';

/** Headers a `columns` mapping must refuse, with the sentence that says why. */
const BAD_HEADERS: Array<[string, string]> = [
  ['', EMPTY],
  ['  ', EMPTY],
  ['x'.repeat(2000), TOO_LONG],
];

/** The three bodies that hold a `columns` mapping, and the field its problems are named by. */
const ENDPOINTS: Array<{ url: string; body: (columns: Record<string, string>) => object; field: string }> = [
  { url: '/v1/exports', body: (columns) => ({ format: 'csv', columns }), field: 'columns' },
  { url: '/v1/export-schedules', body: (columns) => ({ cron: '0 3 * * *', export: { format: 'csv', columns } }), field: 'export.columns' },
  { url: '/v1/import-profiles', body: (columns) => ({ name: 'Partner', columns }), field: 'columns' },
];

describe('a columns mapping with a blank or too long header', () => {
  it('is refused with 400 BAD_REQUEST saying what is wrong with the header, naming columns', async () => {
    const { key } = await ctx.createAccount();
    for (const { url, body, field } of ENDPOINTS) {
      for (const [header, message] of BAD_HEADERS) {
        const response = await ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, payload: body({ [header]: 'brand', EAN: 'ean' }) });
        expect(response.statusCode, `${url} ${header.slice(0, 10)}`).toBe(400);
        expect(response.json(), `${url} '${header.slice(0, 10)}'`).toMatchObject({
          error_code: 'BAD_REQUEST',
          error: message,
          errors: [{ field, message }],
        });
      }
    }
  });

  it('lists one problem for several headers wrong the same way, and a wrong target beside them by its own header', async () => {
    const { key } = await ctx.createAccount();
    const columns = { '': 'brand', ' ': 'name', ['y'.repeat(300)]: 'ean', Farbe: 'colour' };
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers: { 'x-api-key': key }, payload: { format: 'csv', columns } });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ errors: unknown[] }>().errors).toEqual([
      { field: 'columns', message: EMPTY },
      { field: 'columns', message: TOO_LONG },
      { field: 'columns.Farbe', message: expect.stringMatching(/^Unknown target 'colour' in columns/) },
    ]);
  });
});
