import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDashboard } from '../../src/api/dashboard.js';
import { ExportScheduler } from '../../src/shared/schedules/export-scheduler.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

/** Where CI keeps test artefacts (the screenshot of the dashboard). */
const OUTPUT_DIR = new URL('../../test-output/', import.meta.url).pathname;

let ctx: TestContext;
let baseUrl: string;
let browser: Browser;

beforeAll(async () => {
  ctx = await createTestContext();
  baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
});

const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;

describe('the queue dashboard at /admin/queues', () => {
  it('asks a browser for credentials: 401 with WWW-Authenticate, also for a wrong password', async () => {
    const anonymous = await ctx.app.inject({ method: 'GET', url: '/admin/queues' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm="/);
    expect(anonymous.json().error_code).toBe('AUTHENTICATION_REQUIRED');

    const wrong = await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: basic('not-the-key') } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
    expect(wrong.json().error_code).toBe('INVALID_API_KEY');

    // The admin key as a Bearer token is not a dashboard login, and no key works in the URL.
    const bearer = await ctx.app.inject({ method: 'GET', url: `/admin/queues?key=${ADMIN_KEY}`, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(bearer.statusCode).toBe(401);
  });

  it('shows the import queue with a completed job in a real browser, after HTTP Basic login', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\n');
    expect(job.status).toBe('completed');

    const context = await browser.newContext({ httpCredentials: { username: 'operator', password: ADMIN_KEY } });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${baseUrl}/admin/queues`);
      expect(response?.status()).toBe(200);
      await page.getByText('imports', { exact: true }).first().waitFor({ timeout: 15_000 });
      await page.goto(`${baseUrl}/admin/queues/queue/imports?status=completed`);
      await page.getByText(job.id).first().waitFor({ timeout: 15_000 });
      await mkdir(OUTPUT_DIR, { recursive: true });
      const screenshot = join(OUTPUT_DIR, 'dashboard-imports-completed.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(await page.title()).toMatch(/Catalog jobs|Bull/i);
    } finally {
      await context.close();
    }
  });

  it('keeps its routes out of the OpenAPI document', async () => {
    const app = Fastify();
    await app.register(swagger, { openapi: { info: { title: 'probe', version: '1' } } });
    const ticks = new ExportScheduler(ctx.redis, ctx.config);
    await registerDashboard(app, { queues: ctx.queues, scheduleTicks: ticks.queue, adminApiKey: ADMIN_KEY, retryJob: async () => null, cancelJob: async () => false, pauses: { record: async () => {}, clear: async () => {} }, attempts: { admit: async () => {}, passed: () => {}, failed: async () => {} } });
    app.get('/visible', async () => 'ok');
    await app.ready();
    const paths = Object.keys(app.swagger().paths ?? {});
    expect(paths).toContain('/visible');
    expect(paths.filter((path) => path.startsWith('/admin/queues'))).toEqual([]);
    await app.close();
    await ticks.close();
  });
});
