import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKeyReused } from '../../src/api/errors.js';
import { deleteExpiredRetryKeys } from '../../src/shared/jobs/retry-keys.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { jobRow } from '../support/recovery-support.js';

// An Idempotency-Key on POST /v1/jobs/{id}/retry (API.md §4: "on any POST that starts a job").
// Workers are off: a retried job stays queued, so each run a retry starts shows in run_number.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const VALID_CSV = 'ean,name\n4006381333931,Pen\n';

const post = (key: string, url: string, idempotencyKey?: string) =>
  ctx.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${key}`, ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) },
  });

/** An import, accepted and cancelled before it ran: ready to be retried. */
async function cancelledImport(key: string): Promise<string> {
  const response = await ctx.upload(key, VALID_CSV);
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json<{ id: string }>().id;
  expect((await post(key, `/v1/jobs/${id}/cancel`)).statusCode).toBe(200);
  return id;
}

const runNumber = async (id: string) => ((await jobRow(ctx.db, id)) as unknown as { run_number: number }).run_number;

describe('POST /v1/jobs/{id}/retry with an Idempotency-Key', () => {
  it('runs the job again once: a repeat answers 202 with the job as it is, even after that run ended', async () => {
    const { key } = await ctx.createAccount();
    const id = await cancelledImport(key);
    const first = await post(key, `/v1/jobs/${id}/retry`, 'retry-1');
    expect(first.statusCode, first.body).toBe(202);
    expect(first.json()).toEqual({ id, status: 'processing' });
    expect(await runNumber(id)).toBe(2);

    const repeat = await post(key, `/v1/jobs/${id}/retry`, 'retry-1');
    expect(repeat.statusCode, repeat.body).toBe(202);
    expect(repeat.headers.location).toBe(`/v1/jobs/${id}`);
    expect(repeat.json()).toEqual({ id, status: 'processing' });
    expect(await runNumber(id)).toBe(2);

    // The retried run ends; the repeat still does not start a third.
    expect((await post(key, `/v1/jobs/${id}/cancel`)).statusCode).toBe(200);
    const late = await post(key, `/v1/jobs/${id}/retry`, 'retry-1');
    expect(late.statusCode, late.body).toBe(202);
    expect(late.json()).toEqual({ id, status: 'cancelled' });
    expect(await runNumber(id)).toBe(2);

    // Another key runs it again.
    const other = await post(key, `/v1/jobs/${id}/retry`, 'retry-2');
    expect(other.json()).toEqual({ id, status: 'processing' });
    expect(await runNumber(id)).toBe(3);
  });

  it('runs the job once when the same retry is sent twice at once', async () => {
    const { key } = await ctx.createAccount();
    const id = await cancelledImport(key);
    const answers = await Promise.all([post(key, `/v1/jobs/${id}/retry`, 'together'), post(key, `/v1/jobs/${id}/retry`, 'together')]);
    expect(answers.map((answer) => [answer.statusCode, answer.json()])).toEqual([
      [202, { id, status: 'processing' }],
      [202, { id, status: 'processing' }],
    ]);
    expect(await runNumber(id)).toBe(2);
  });

  it('answers 422 for the key with another job, which does not run', async () => {
    const { key } = await ctx.createAccount();
    const [first, second] = [await cancelledImport(key), await cancelledImport(key)];
    expect((await post(key, `/v1/jobs/${first}/retry`, 'shared')).statusCode).toBe(202);
    const reused = await post(key, `/v1/jobs/${second}/retry`, 'shared');
    expect(reused.statusCode, reused.body).toBe(422);
    expect(reused.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: idempotencyKeyReused().message });
    expect((await jobRow(ctx.db, second)).status).toBe('cancelled');
  });

  it("keeps each account's keys apart, and a key for a day", async () => {
    const [owner, other] = [await ctx.createAccount(), await ctx.createAccount()];
    const [mine, theirs] = [await cancelledImport(owner.key), await cancelledImport(other.key)];
    expect((await post(owner.key, `/v1/jobs/${mine}/retry`, 'daily')).statusCode).toBe(202);
    expect((await post(other.key, `/v1/jobs/${theirs}/retry`, 'daily')).json()).toEqual({ id: theirs, status: 'processing' });

    await post(owner.key, `/v1/jobs/${mine}/cancel`);
    await ctx.db.query("UPDATE job_retry_keys SET created_at = now() - interval '25 hours' WHERE account_id = $1", [owner.id]);
    expect((await post(owner.key, `/v1/jobs/${mine}/retry`, 'daily')).json()).toEqual({ id: mine, status: 'processing' });
    expect(await runNumber(mine)).toBe(3);

    await ctx.db.query("UPDATE job_retry_keys SET created_at = now() - interval '25 hours' WHERE account_id = $1", [other.id]);
    expect(await deleteExpiredRetryKeys(ctx.db)).toBeGreaterThanOrEqual(1);
    const { rows } = await ctx.db.query('SELECT account_id FROM job_retry_keys WHERE account_id = ANY($1::uuid[])', [[owner.id, other.id]]);
    expect(rows).toEqual([{ account_id: owner.id }]);
  });
});
