import { connect, createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import type { Config } from '../../src/shared/config.js';
import { loggerOptions } from '../../src/shared/logger.js';
import { PASSWORD, uniqueEmail, verificationTokenFor } from '../support/accounts.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let app: FastifyInstance;
let logged = '';
let logger: Logger;

/** An app of this context whose every log line (requests, mailer) lands in `logged`. */
function appWith(config: Config): Promise<FastifyInstance> {
  return buildApp({ config, db: ctx.db, redis: ctx.redis, queues: ctx.queues, uploads: ctx.uploads, logger });
}

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  logger = pino(loggerOptions('debug'), sink);
  app = await appWith(ctx.config);
});
afterAll(async () => {
  await app?.close();
  await ctx?.close();
});

/** A loopback port with nothing listening: an SMTP server that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('request logs', () => {
  it("name each request's account on its 'request completed' line", async () => {
    const { id, key } = await ctx.createAccount();
    const other = await ctx.createAccount();
    const mine = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-api-key': key } });
    const theirs = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-api-key': other.key } });
    const lines = logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const completed = (reqId: string) => lines.find((line) => line.reqId === reqId && line.msg === 'request completed');
    expect(completed(mine.headers['x-request-id'] as string)).toMatchObject({ accountId: id, res: { statusCode: 200 } });
    expect(completed(theirs.headers['x-request-id'] as string)).toMatchObject({ accountId: other.id });
  });

  it("name the job a request started, with the request id and the account, on a 'job accepted' line: imports, exports, enrichments and retries", async () => {
    const { id, key } = await ctx.createAccount();
    const headers = { 'x-api-key': key };
    const started = [
      await app.inject({ method: 'POST', url: '/v1/imports', headers: { ...headers, 'content-type': 'text/csv', 'x-request-id': 'proxy-import-1' }, payload: 'ean,name\n4006381333931,Pen\n' }),
      await app.inject({ method: 'POST', url: '/v1/exports', headers: { ...headers, 'x-request-id': 'proxy-export-1' }, payload: { format: 'csv' } }),
      await app.inject({ method: 'POST', url: '/v1/enrichments', headers: { ...headers, 'x-request-id': 'proxy-enrich-1' }, payload: {} }),
    ];
    const importId = started[0]!.json<{ id: string }>().id;
    await ctx.db.query("UPDATE jobs SET status = 'failed', phase = 'done', finished_at = now() WHERE id = $1", [importId]);
    started.push(await app.inject({ method: 'POST', url: `/v1/jobs/${importId}/retry`, headers: { ...headers, 'x-request-id': 'proxy-retry-1' } }));

    const lines = logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const [index, response] of started.entries()) {
      expect(response.statusCode, response.body).toBe(202);
      const reqId = response.headers['x-request-id'] as string;
      expect(reqId).toBe(['proxy-import-1', 'proxy-export-1', 'proxy-enrich-1', 'proxy-retry-1'][index]);
      const accepted = lines.filter((line) => line.reqId === reqId && line.msg === 'job accepted');
      expect(accepted, reqId).toEqual([expect.objectContaining({ accountId: id, jobId: response.json<{ id: string }>().id })]);
    }
  });

  it('never contain keys, passwords, session or verification tokens', async () => {
    const { key } = await ctx.createAccount();
    const email = uniqueEmail('logs');
    await app.inject({ method: 'POST', url: '/v1/signup', payload: { email, password: PASSWORD } });
    const token = await verificationTokenFor(ctx, email);
    await app.inject({ method: 'GET', url: `/v1/verify-email?token=${token}` });
    const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD } });
    const session = login.json<{ token: string }>().token;
    await app.inject({ method: 'GET', url: '/v1/keys', headers: { authorization: `Bearer ${session}` } });
    const created = await app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': key }, payload: { name: 'x' } });
    await app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: `Bearer ${created.json<{ key: string }>().key}` } });
    await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'a wrong password' } });

    expect(logged).toContain('/v1/verify-email?token=[redacted]');
    for (const secret of [key, token, PASSWORD, 'a wrong password', session, created.json<{ key: string }>().key]) {
      expect(logged).not.toContain(secret);
    }
  });
});

describe('an upload the client cuts off', () => {
  it('is logged as the client leaving, not as a failed request (no error line, no 503 for a backing service)', async () => {
    const { key } = await ctx.createAccount();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    logged = '';
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/imports HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\nContent-Type: text/csv\r\n` +
        `Content-Length: 10000000\r\n\r\nean,name\n${'4006381333931,Pen\n'.repeat(2_000)}`,
    );
    await waitFor('the upload to start', async () => (logged.includes('"url":"/v1/imports"') ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await waitFor('the request to end', async () => (logged.includes('"statusCode"') || logged.includes('request failed') || logged.includes('closed the connection') ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(logged).not.toContain('request failed');
  });
});

describe("an import's callback_url", () => {
  it('is not logged: a receiver address often carries its own secret', async () => {
    logged = '';
    const receiver = encodeURIComponent('https://hooks.example.com/services/T0/B0?sig=receiver-secret-0451');
    await app.inject({ method: 'POST', url: `/v1/imports?on_error=skip&callback_url=${receiver}` });
    expect(logged).toContain('/v1/imports?on_error=skip&callback_url=[redacted]');
    expect(logged).not.toContain('receiver-secret-0451');
  });
});

describe('the email-verification token', () => {
  it('is in no log line: not the signup mail kept in the outbox, nor any way of sending it back', async () => {
    logged = '';
    const email = uniqueEmail('token');
    expect((await app.inject({ method: 'POST', url: '/v1/signup', payload: { email, password: PASSWORD } })).statusCode).toBe(201);
    const token = await verificationTokenFor(ctx, email);
    expect(logged).toContain('mail kept in mail_outbox');

    // The link as a mail client may mangle it: a trailing slash, the token as a query parameter
    // of the POST, an encoded parameter name, other parameters around it; then the POST body.
    await app.inject({ method: 'GET', url: `/v1/verify-email/?token=${token}` });
    await app.inject({ method: 'POST', url: `/v1/verify-email?token=${token}`, payload: {} });
    await app.inject({ method: 'GET', url: `/v1/verify-email?tok%65n=${token}&x=1` });
    await app.inject({ method: 'GET', url: `/v1/verify-email?utm_source=mail&token=${token}&TOKEN=${token}` });
    // Array syntax and `;` as a separator, as some clients and parsers write them.
    await app.inject({ method: 'GET', url: `/v1/verify-email?token[]=${token}&api_key%5B0%5D=${token}` });
    await app.inject({ method: 'GET', url: `/v1/verify-email?x=1;token=${token}` });
    await app.inject({ method: 'POST', url: '/v1/verify-email', payload: { token } });
    await app.inject({ method: 'POST', url: '/v1/verify-email', payload: { token: `${token}x` } });

    expect(logged).toContain('/v1/verify-email/?token=[redacted]');
    expect(logged).toContain('utm_source=mail&token=[redacted]');
    expect(logged).toContain('?token[]=[redacted]&api_key%5B0%5D=[redacted]');
    expect(logged).toContain('?x=1;token=[redacted]');
    expect(logged).not.toContain(token);
  });

  it('is not logged when SMTP refuses the mail and it is kept in the outbox instead', async () => {
    const smtpApp = await appWith({ ...ctx.config, SMTP_URL: `smtp://127.0.0.1:${await closedPort()}` });
    try {
      logged = '';
      const email = uniqueEmail('smtp');
      expect((await smtpApp.inject({ method: 'POST', url: '/v1/signup', payload: { email, password: PASSWORD } })).statusCode).toBe(201);
      const token = await verificationTokenFor(ctx, email);
      expect(logged).toContain('SMTP refused a message');
      expect(logged).not.toContain(token);
    } finally {
      await smtpApp.close();
    }
  });
});
