import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import { loggerOptions } from '../../src/shared/logger.js';
import { PASSWORD, uniqueEmail } from '../support/accounts.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let app: FastifyInstance;
let logged = '';

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  const logger = pino(loggerOptions('debug'), sink);
  app = await buildApp({ config: ctx.config, db: ctx.db, redis: ctx.redis, queues: ctx.queues, uploads: ctx.uploads, logger });
});
afterAll(async () => {
  await app?.close();
  await ctx?.close();
});

describe('request logs', () => {
  it('never contain keys, passwords, session or verification tokens', async () => {
    const { key } = await ctx.createAccount();
    const email = uniqueEmail('logs');
    await app.inject({ method: 'POST', url: '/v1/signup', payload: { email, password: PASSWORD } });
    const { rows } = await ctx.db.query<{ body: string }>('SELECT body FROM mail_outbox WHERE to_address = $1', [email]);
    const token = /token=([\w-]+)/.exec(rows[0]!.body)![1]!;
    logged = ''; // the outbox mailer logs the message itself (that is its purpose); requests must not
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
