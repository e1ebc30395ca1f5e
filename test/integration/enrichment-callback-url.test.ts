import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post } from '../support/accounts.js';
import { Receiver } from '../support/callback-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * An enrichment's callback_url, like an import's or an export's, is kept only in the callback
 * outbox: a receiver's address often carries its secret, so the job resource (read with no more
 * than `jobs:read`) never shows it.
 */
describe("an enrichment's callback_url", () => {
  let ctx: TestContext;
  let key: string;
  let accountId: string;
  let reader: string;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    ctx = await createTestContext({
      env: { CALLBACK_SECRET: 'callback-secret-0123456789', CALLBACK_ALLOW_PRIVATE: 'true', CALLBACK_RETRY_BASE_SECONDS: '0.2' },
    });
    ({ id: accountId, key } = await ctx.createAccount());
    reader = (await post(ctx, '/v1/keys', { name: 'reader', scopes: ['jobs:read'] }, { 'x-api-key': key })).json<{ key: string }>().key;
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.close();
  });

  const enrich = (callbackUrl: string, idempotencyKey?: string) =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/enrichments',
      headers: { 'x-api-key': key, ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
      payload: { overwrite: true, callback_url: callbackUrl },
    });

  it('is not shown by GET /v1/jobs/{id}, the job list or the job events, and the job still calls it back after a failed attempt', async () => {
    receiver.answerNext(500);
    const before = receiver.deliveries.length;
    const callbackUrl = receiver.url('/enr?secret=s3cr3t-value');
    const response = await enrich(callbackUrl);
    expect(response.statusCode).toBe(202);
    const job = await ctx.waitForJob(key, response.json<{ id: string }>().id);
    expect(job.status).toBe('completed');

    const seen = [
      await ctx.get(reader, `/v1/jobs/${job.id}`),
      await ctx.get(reader, '/v1/jobs?type=enrichment'),
      await ctx.get(reader, `/v1/jobs/${job.id}/events`),
    ];
    for (const answer of seen) {
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.body).not.toContain('s3cr3t-value');
      expect(answer.body).not.toContain('callback_url');
    }
    expect(seen[0]!.json().options).toEqual({ eans: null, filter: null, overwrite: true });

    // Delivered from the outbox: a 500, then the retry.
    const deliveries = (await receiver.waitFor(before + 2)).slice(before);
    expect(deliveries.map((delivery) => delivery.url)).toEqual(['/enr?secret=s3cr3t-value', '/enr?secret=s3cr3t-value']);
    for (const delivery of deliveries) {
      expect(JSON.parse(delivery.body)).toMatchObject({ id: job.id, type: 'enrichment', options: { eans: null, filter: null, overwrite: true } });
      expect(delivery.body).not.toContain('s3cr3t-value');
    }
    const { rows } = await ctx.db.query('SELECT callback_url, options FROM jobs WHERE id = $1', [job.id]);
    expect(rows[0]).toEqual({ callback_url: callbackUrl, options: { eans: null, filter: null, overwrite: true } });
  });

  it('is not shown, moved out of the options and called back once for an enrichment a previous-release API accepted after migration 020', async () => {
    const before = receiver.deliveries.length;
    // As the previous release's API wrote it (in its options and in the outbox), and without the outbox.
    const asWritten = receiver.url('/old?secret=old-s3cr3t');
    const optionsOnly = receiver.url('/options-only?secret=old-s3cr3t');
    const ids: string[] = [];
    for (const [callbackUrl, outbox] of [[asWritten, asWritten], [optionsOnly, null]]) {
      const { rows } = await ctx.db.query<{ id: string }>(
        `INSERT INTO jobs (id, account_id, type, status, options, callback_url)
         VALUES (gen_random_uuid(), $1, 'enrichment', 'processing', $2, $3) RETURNING id`,
        [accountId, JSON.stringify({ eans: null, filter: null, overwrite: false, callback_url: callbackUrl }), outbox],
      );
      ids.push(rows[0]!.id);
    }
    const shown = async () => [
      ...(await Promise.all(ids.map((id) => ctx.get(reader, `/v1/jobs/${id}`)))),
      await ctx.get(reader, '/v1/jobs?type=enrichment'),
    ];
    for (const answer of await shown()) {
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.body).not.toContain('old-s3cr3t');
    }
    for (const id of ids) await ctx.queues.enqueue('enrichment', id);
    for (const id of ids) expect((await ctx.waitForJob(key, id)).status).toBe('completed');
    for (const answer of [...(await shown()), ...(await Promise.all(ids.map((id) => ctx.get(reader, `/v1/jobs/${id}/events`))))]) {
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.body).not.toContain('old-s3cr3t');
      expect(answer.body).not.toContain('callback_url');
    }

    const deliveries = (await receiver.waitFor(before + 2)).slice(before);
    expect(deliveries.map((delivery) => delivery.url).sort()).toEqual(['/old?secret=old-s3cr3t', '/options-only?secret=old-s3cr3t']);
    for (const delivery of deliveries) expect(delivery.body).not.toContain('old-s3cr3t');
    // The worker records a delivery once the receiver's answer is in, a moment after the receiver has it.
    const recorded = async () =>
      (await ctx.db.query('SELECT callback_url, options, callback_delivered_at IS NOT NULL AS delivered FROM jobs WHERE id = ANY($1) ORDER BY callback_url', [ids])).rows;
    await expect.poll(recorded, { timeout: 10_000, interval: 50 }).toEqual([
      { callback_url: asWritten, options: { eans: null, filter: null, overwrite: false }, delivered: true },
      { callback_url: optionsOnly, options: { eans: null, filter: null, overwrite: false }, delivered: true },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.deliveries).toHaveLength(before + 2);
  });

  it('still tells two requests with one Idempotency-Key apart by their callback_url', async () => {
    const first = await enrich(receiver.url('/a'), 'enrich-callback-1');
    expect(first.statusCode).toBe(202);
    const same = await enrich(receiver.url('/a'), 'enrich-callback-1');
    expect(same.statusCode).toBe(202);
    expect(same.json().id).toBe(first.json().id);
    // Hashed as when the callback_url was among the options: a key sent before still matches.
    const before = JSON.stringify({ eans: null, filter: null, overwrite: true, callback_url: receiver.url('/a') });
    const { rows } = await ctx.db.query('SELECT request_hash FROM jobs WHERE id = $1', [first.json().id]);
    expect(rows[0].request_hash).toBe(createHash('sha256').update(before).digest('hex'));
    const other = await enrich(receiver.url('/b'), 'enrich-callback-1');
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ error_code: 'VALIDATION_ERROR' });
  });
});

describe('migration 020', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false });
  });
  afterAll(async () => ctx?.close());

  /** An enrichment row as the service wrote it before migration 020. */
  async function oldEnrichment(accountId: string, status: string, options: object, callbackUrl: string | null): Promise<string> {
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, status, options, callback_url, callback_delivered_at)
       VALUES (gen_random_uuid(), $1, 'enrichment', $2, $3, $4, CASE WHEN $2 = 'completed' AND $4::text IS NOT NULL THEN now() END)
       RETURNING id`,
      [accountId, status, JSON.stringify(options), callbackUrl],
    );
    return rows[0]!.id;
  }

  it("removes callback_url from existing enrichments' options, keeping it in the callback column", async () => {
    const { id: accountId } = await ctx.createAccount();
    const url = 'https://hooks.example.com/enr?secret=old';
    const both = await oldEnrichment(accountId, 'completed', { eans: null, filter: null, overwrite: false, callback_url: url }, url);
    const optionsOnly = await oldEnrichment(accountId, 'processing', { eans: ['4006381333931'], filter: null, overwrite: true, callback_url: url }, null);
    const endedOptionsOnly = await oldEnrichment(accountId, 'failed', { eans: null, filter: null, overwrite: false, callback_url: url }, null);
    const none = await oldEnrichment(accountId, 'completed', { eans: null, filter: null, overwrite: false }, null);

    await ctx.db.query(await readFile(new URL('../../migrations/020_enrichment_callback_url.sql', import.meta.url), 'utf8'));

    const { rows } = await ctx.db.query(
      `SELECT id, options, callback_url, callback_delivered_at IS NOT NULL AS delivered, callback_next_at = 'infinity' AS given_up
       FROM jobs WHERE account_id = $1`,
      [accountId],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    expect(byId.get(both)).toMatchObject({ options: { eans: null, filter: null, overwrite: false }, callback_url: url, delivered: true });
    expect(byId.get(optionsOnly)).toMatchObject({ options: { eans: ['4006381333931'], filter: null, overwrite: true }, callback_url: url, given_up: null });
    // Its callback was never in the outbox: the job's old end is not announced now.
    expect(byId.get(endedOptionsOnly)).toMatchObject({ options: { eans: null, filter: null, overwrite: false }, callback_url: url, delivered: false, given_up: true });
    expect(byId.get(none)).toMatchObject({ options: { eans: null, filter: null, overwrite: false }, callback_url: null });
  });
});
