import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let alice: { id: string; key: string };
let bob: { id: string; key: string };
let aliceJobId: string;
const EAN = '4006381333931';

beforeAll(async () => {
  ctx = await createTestContext();
  alice = await ctx.createAccount();
  bob = await ctx.createAccount();
  // One good row and one bad one: the job has a report, and (on_error=skip) the product exists.
  const job = await ctx.importCsv(alice.key, `ean,name\n${EAN},Pen\n4006381333932,Pencil\n`, { on_error: 'skip' });
  expect(job.status).toBe('completed');
  aliceJobId = job.id;
});
afterAll(async () => ctx?.close());

describe("another account's resources answer 404, never 403", () => {
  it.each(['', '/errors', '/errors.csv'])('GET /v1/jobs/{id}%s', async (suffix) => {
    expect((await ctx.get(alice.key, `/v1/jobs/${aliceJobId}${suffix}`)).statusCode).toBe(200);
    const response = await ctx.get(bob.key, `/v1/jobs/${aliceJobId}${suffix}`);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error_code: 'NOT_FOUND' });
    expect(response.body).not.toContain(EAN);
  });

  it('GET /v1/products/{ean}', async () => {
    expect((await ctx.get(alice.key, `/v1/products/${EAN}`)).statusCode).toBe(200);
    const response = await ctx.get(bob.key, `/v1/products/${EAN}`);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'Product not found' });
  });

  it("GET /v1/jobs lists only the caller's jobs", async () => {
    expect((await ctx.get(bob.key, '/v1/jobs')).json().data).toEqual([]);
    expect((await ctx.get(alice.key, '/v1/jobs')).json().data.map((job: { id: string }) => job.id)).toEqual([aliceJobId]);
  });
});
