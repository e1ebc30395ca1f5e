import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Receiver, type Delivery } from '../support/callback-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

const SECRET = 'callback-secret-0123456789';
const VALID_CSV = 'ean,name\n4006381333931,Pen\n';

function verify(delivery: Delivery): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(delivery.headers['x-signature']));
  if (!match) return false;
  const expected = createHmac('sha256', SECRET).update(`${match[1]}.${delivery.body}`).digest('hex');
  return expected === match[2];
}

describe('job callbacks', () => {
  let ctx: TestContext;
  let key: string;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    ctx = await createTestContext({
      env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'true', CALLBACK_RETRY_BASE_SECONDS: '0.2' },
    });
    key = (await ctx.createAccount()).key;
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.close();
  });

  it('POSTs the ended job resource, signed, and retries until the receiver accepts it', async () => {
    receiver.answerNext(500, 503);
    const before = receiver.deliveries.length;
    const job = await ctx.importCsv(key, VALID_CSV, { callback_url: receiver.url('/done') });
    expect(job.status).toBe('completed');
    const deliveries = (await receiver.waitFor(before + 3)).slice(before);
    for (const delivery of deliveries) {
      expect(delivery.headers['content-type']).toMatch(/^application\/json/);
      expect(delivery.headers['x-job-id']).toBe(job.id);
      expect(verify(delivery)).toBe(true);
      expect(JSON.parse(delivery.body)).toEqual(job);
    }
    // The worker records the delivery just after the receiver answered.
    await expect
      .poll(async () => (await ctx.db.query('SELECT callback_attempts, callback_delivered_at IS NOT NULL AS delivered FROM jobs WHERE id = $1', [job.id])).rows[0], { timeout: 5_000 })
      .toEqual({ callback_attempts: 3, delivered: true });
    // Delivered once accepted: no further attempts.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.deliveries.length).toBe(before + 3);
  });

  it('calls back for a failed import too, with its error code', async () => {
    const before = receiver.deliveries.length;
    const job = await ctx.importCsv(key, 'ean,name\n123,Pen\n', { callback_url: receiver.url() });
    expect(job.status).toBe('failed');
    const [delivery] = (await receiver.waitFor(before + 1)).slice(before);
    expect(JSON.parse(delivery!.body)).toMatchObject({ id: job.id, status: 'failed', error_code: 'IMPORT_FAILED' });
  });

  it.each([
    ['/v1/enrichments', {}, 'enrichment'],
    ['/v1/exports', { format: 'csv' }, 'export'],
  ])('takes callback_url from the body of POST %s', async (url, body, type) => {
    const before = receiver.deliveries.length;
    const response = await ctx.app.inject({
      method: 'POST',
      url,
      headers: { 'x-api-key': key },
      payload: { ...body, callback_url: receiver.url(`/${type}`) },
    });
    expect(response.statusCode).toBe(202);
    const job = await ctx.waitForJob(key, response.json<{ id: string }>().id);
    const [delivery] = (await receiver.waitFor(before + 1)).slice(before);
    expect(verify(delivery!)).toBe(true);
    expect(JSON.parse(delivery!.body)).toMatchObject({ id: job.id, type, status: 'completed' });
  });

  it.each(['ftp://example.com/hook', 'notaurl', 'http://'])('refuses the callback_url %s, which is no http or https URL, with 400', async (callbackUrl) => {
    const response = await ctx.upload(key, VALID_CSV, { callback_url: callbackUrl });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(response.json().error).toContain('callback_url');
  });

  it.each([
    ['/v1/enrichments', {}],
    ['/v1/exports', { format: 'csv' }],
  ])('refuses a callback_url that is no URL in the body of POST %s', async (url, body) => {
    const response = await ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, payload: { ...body, callback_url: 'notaurl' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(response.json().error).toMatch(/callback_url.*must be an absolute http or https URL/);
  });
});

describe('job callbacks toward private addresses', () => {
  let ctx: TestContext;
  let key: string;

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false, env: { CALLBACK_SECRET: SECRET } });
    key = (await ctx.createAccount()).key;
  });
  afterAll(async () => ctx?.close());

  it.each(['http://127.0.0.1:8080/hook', 'http://10.1.2.3/hook', 'http://[::1]/hook', 'http://localhost/hook'])(
    'refuses %s unless the operator allows private targets, and accepts nothing',
    async (url) => {
      const response = await ctx.upload(key, VALID_CSV, { callback_url: url });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
      // An address the client wrote is named; the address a name resolves to is not.
      expect(response.json().error).toBe(
        url === 'http://localhost/hook'
          ? "Invalid parameter 'callback_url': its host 'localhost' resolves to a private or loopback address."
          : `Invalid parameter 'callback_url': it points at the private or loopback address ${new URL(url).hostname.replace(/^\[|\]$/g, '')}.`,
      );
      const { rows } = await ctx.db.query('SELECT count(*)::int AS jobs FROM jobs');
      expect(rows[0].jobs).toBe(0);
    },
  );
});

describe('job callbacks when the server has no signing secret', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false });
  });
  afterAll(async () => ctx?.close());

  it('refuses callback_url with 400 naming the missing setting', async () => {
    const { key } = await ctx.createAccount();
    const response = await ctx.upload(key, VALID_CSV, { callback_url: 'https://example.com/hook' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toContain('CALLBACK_SECRET');
  });
});

describe('a callback_url that names port 0', () => {
  let ctx: TestContext;
  let key: string;
  const PORT_ZERO = 'http://[2001:4860:4860::8888]:0/';
  const PORT_ZERO_REFUSED = "callback_url must not name port 0: give the receiver's port (1 to 65535), or none for the scheme's default";

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false, env: { CALLBACK_SECRET: SECRET } });
    key = (await ctx.createAccount()).key;
  });
  afterAll(async () => ctx?.close());

  it('is refused with 400 by POST /v1/imports, which accepts no job (it would be sent to port 80)', async () => {
    const response = await ctx.upload(key, VALID_CSV, { callback_url: PORT_ZERO });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'BAD_REQUEST',
      error: "Invalid query parameter 'callback_url': must not name port 0: give the receiver's port (1 to 65535), or none for the scheme's default",
    });
    const { rows } = await ctx.db.query('SELECT count(*)::int AS jobs FROM jobs');
    expect(rows[0].jobs).toBe(0);
  });

  it.each([
    ['/v1/enrichments', {}],
    ['/v1/exports', { format: 'csv' }],
  ])('is refused with 400 in the body of POST %s', async (url, body) => {
    const response = await ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, payload: { ...body, callback_url: PORT_ZERO } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: expect.stringContaining(PORT_ZERO_REFUSED) });
  });
});
