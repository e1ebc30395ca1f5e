import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishJob, saveProgress, startJobAttempt } from '../../src/shared/jobs/job-queries.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { baseUrlOf, openEvents } from '../support/event-stream.js';
import { keyWithScopes } from '../support/operator-support.js';

/** Workers on: real imports. */
let ctx: TestContext;
/** No workers: the test moves the job through the same queries the workers use. */
let idle: TestContext;
let ctxUrl: string;
let idleUrl: string;

beforeAll(async () => {
  [ctx, idle] = await Promise.all([
    createTestContext(),
    createTestContext({ workers: false, env: { JOB_EVENTS_HEARTBEAT_SECONDS: '1' } }),
  ]);
  await Promise.all([ctx.app.listen({ port: 0, host: '127.0.0.1' }), idle.app.listen({ port: 0, host: '127.0.0.1' })]);
  ctxUrl = baseUrlOf(ctx.app.server.address());
  idleUrl = baseUrlOf(idle.app.server.address());
});
afterAll(async () => {
  await Promise.all([ctx?.close(), idle?.close()]);
});

const CSV = 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n96385074,Notebook,3.00,EUR\n';

async function queuedImport(context: TestContext, key: string): Promise<string> {
  const response = await context.upload(key, CSV);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

describe('GET /v1/jobs/{id}/events', () => {
  it('streams a real import from the first state to the end, then closes', async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(ctx, account.key);
    const stream = await openEvents(ctxUrl, account.key, id);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = [];
    for (let event = await stream.next(); event; event = await stream.next()) events.push(event);

    expect(events.length).toBeGreaterThanOrEqual(1);
    const last = events.at(-1)!;
    expect(last.event).toBe('end');
    expect(last.job).toMatchObject({ id, status: 'completed', phase: 'done', progress: { rows_created: 2 } });
    expect(events.slice(0, -1).every((event) => event.event === 'job' && event.job.status === 'processing')).toBe(true);
    const ids = events.map((event) => Number(event.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('sends the state at once, each change the workers commit, and the final state', async () => {
    const account = await idle.createAccount();
    const id = await queuedImport(idle, account.key);
    const stream = await openEvents(idleUrl, account.key, id);

    const first = await stream.next();
    expect(first).toMatchObject({ event: 'job', job: { id, status: 'processing', phase: 'queued' } });

    await startJobAttempt(idle.db, id);
    expect((await stream.next())?.job).toMatchObject({ phase: 'running' });
    await saveProgress(idle.db, id, { phase: 'finalizing', rowsTotal: 2, rowsProcessed: 2, rowsFailed: 0 });
    const finalizing = await stream.next();
    expect(finalizing?.job).toMatchObject({ phase: 'finalizing', progress: { rows_total: 2, rows_processed: 2 } });
    await finishJob(idle.db, id, { status: 'failed', errorCode: 'IMPORT_FAILED', detail: 'Bad file.' });
    const end = await stream.next();
    expect(end).toMatchObject({ event: 'end', job: { status: 'failed', error_code: 'IMPORT_FAILED', detail: 'Bad file.' } });
    expect(Number(end!.id)).toBeGreaterThan(Number(finalizing!.id));
    expect(await stream.next()).toBeNull();
  });

  it('resumes after Last-Event-ID without repeating what the client saw', async () => {
    const account = await idle.createAccount();
    const id = await queuedImport(idle, account.key);
    const stream = await openEvents(idleUrl, account.key, id);
    const seen = await stream.next();
    stream.close();

    const resumed = await openEvents(idleUrl, account.key, id, seen!.id!);
    await startJobAttempt(idle.db, id);
    const next = await resumed.next();
    expect(next).toMatchObject({ event: 'job', job: { phase: 'running' } });
    expect(Number(next!.id)).toBeGreaterThan(Number(seen!.id));
    await finishJob(idle.db, id, { status: 'completed' });
    const end = await resumed.next();
    expect(end?.event).toBe('end');

    // The client saw the end: a reconnect gets the end again and the stream closes.
    const after = await openEvents(idleUrl, account.key, id, end!.id!);
    expect(await after.next()).toMatchObject({ event: 'end', id: end!.id });
    expect(await after.next()).toBeNull();
  });

  it('sends heartbeat comments while the job does not change', async () => {
    const account = await idle.createAccount();
    const id = await queuedImport(idle, account.key);
    const stream = await openEvents(idleUrl, account.key, id);
    expect(await stream.nextComment()).toBe('keep-alive');
    stream.close();
  });

  it('reads PostgreSQL when its notifications are lost, and resumes them', async () => {
    const account = await idle.createAccount();
    const id = await queuedImport(idle, account.key);
    const stream = await openEvents(idleUrl, account.key, id);
    await stream.next();
    const { rows } = await idle.db.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
       WHERE datname = current_database() AND query = 'LISTEN job_events'`,
    );
    expect(rows.map((row) => row.terminated)).toEqual([true]);

    await startJobAttempt(idle.db, id);
    expect((await stream.next())?.job).toMatchObject({ phase: 'running' });
    await finishJob(idle.db, id, { status: 'completed' });
    expect((await stream.next())?.job).toMatchObject({ status: 'completed' });
  });

  it('counts the whole stream as one request toward the limits', async () => {
    const account = await idle.createAccount();
    const id = await queuedImport(idle, account.key);
    const usedBefore = (await idle.get(account.key, '/v1/usage')).json<{ used: number }>().used;
    const stream = await openEvents(idleUrl, account.key, id);
    await stream.next();
    await startJobAttempt(idle.db, id);
    await stream.next();
    await finishJob(idle.db, id, { status: 'completed' });
    await stream.next();
    const usedAfter = (await idle.get(account.key, '/v1/usage')).json<{ used: number }>().used;
    expect(usedAfter - usedBefore).toBe(2);
  });

  it('is documented as text/event-stream in the OpenAPI document', async () => {
    const document = (await idle.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, unknown> }> } }>;
    }>();
    const operation = document.paths['/v1/jobs/{id}/events']!.get;
    expect(Object.keys(operation.responses['200']!.content)).toEqual(['text/event-stream']);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403', '404', '429']));
  });

  it("answers 404 for another account's job and 403 without jobs:read", async () => {
    const owner = await idle.createAccount();
    const other = await idle.createAccount();
    const id = await queuedImport(idle, owner.key);
    const foreign = await openEvents(idleUrl, other.key, id);
    expect(foreign.response.status).toBe(404);
    expect(await foreign.response.json()).toMatchObject({ error_code: 'NOT_FOUND' });
    const writeOnly = await keyWithScopes(idle, owner.id, ['imports:write']);
    const denied = await openEvents(idleUrl, writeOnly, id);
    expect(denied.response.status).toBe(403);
  });
});
