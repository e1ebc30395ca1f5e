import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi, type ApiChild } from '../support/api-process.js';
import { pause } from '../support/raw-http.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// One connection cannot make the API build more answers than its client reads: requests sent
// ahead on a kept-alive connection (HTTP/1.1 pipelining) are answered in order up to
// MAX_PIPELINED_REQUESTS in flight, and past it the connection is closed. The service runs as a
// process, as `npm start` runs it (a 128 MB heap), so that a flood that exhausts its memory kills
// that process, not the test.

const MAX_PIPELINED = 16;

let ctx: TestContext;
let api: ApiChild;
let port: number;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  // LOG_LEVEL=warn: the closed connection is logged.
  api = await spawnApi({ ...ctx.env, MAX_PIPELINED_REQUESTS: String(MAX_PIPELINED), LOG_LEVEL: 'warn' }, 128);
  port = Number(new URL(api.url).port);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await ctx?.close();
});

/** A connection to the API process that has been accepted by the TCP stack. */
async function open(): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

const get = (path: string, requestId = 'pipelined') => `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n\r\n`;

/** The API process's resident memory in MB (Linux: VmRSS of /proc/<pid>/status). */
async function residentMb(): Promise<number> {
  const status = await readFile(`/proc/${api.child.process.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

interface Answer {
  status: number;
  requestId: string | undefined;
  body: Buffer;
}

/** Splits what a connection received into whole answers (each has a Content-Length: nothing here is chunked). */
function answersIn(received: Buffer): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  for (;;) {
    const end = received.indexOf('\r\n\r\n', at);
    if (end === -1) return answers;
    const head = received.subarray(at, end).toString('latin1');
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    if (!Number.isInteger(length) || received.length < end + 4 + length) return answers;
    answers.push({
      status: Number(head.slice(9, 12)),
      requestId: /\r\nx-request-id: (\S+)/i.exec(head)?.[1],
      body: received.subarray(end + 4, end + 4 + length),
    });
    at = end + 4 + length;
  }
}

/** Reads `socket` until it has `count` whole answers, it closes, or `ms` pass. */
function readAnswers(socket: Socket, count: number, ms: number): Promise<{ answers: Answer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      if (answersIn(Buffer.concat(chunks)).length >= count) done(false);
    };
    const onClose = () => done(true);
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData).off('close', onClose).pause();
      resolve({ answers: answersIn(Buffer.concat(chunks)), closed });
    };
    if (socket.destroyed) return resolve({ answers: [], closed: true });
    const timer = setTimeout(() => done(false), ms);
    socket.on('data', onData).once('close', onClose).resume();
  });
}

describe('requests pipelined on one connection', () => {
  it('answers 5 requests pipelined in one write, in the order they were sent', async () => {
    const socket = await open();
    const paths = ['/healthz', '/openapi.json', '/v1/jobs', '/no-such-route', '/healthz'];
    socket.write(paths.map((path, index) => get(path, `req-${index + 1}`)).join(''));
    const { answers, closed } = await readAnswers(socket, paths.length, 10_000);
    socket.destroy();
    expect(closed).toBe(false);
    expect(answers.map((answer) => [answer.requestId, answer.status])).toEqual([
      ['req-1', 200],
      ['req-2', 200],
      ['req-3', 401],
      ['req-4', 404],
      ['req-5', 200],
    ]);
    expect(JSON.parse(answers[1]!.body.toString())).toMatchObject({ openapi: '3.1.0' });
  });

  it('answers MAX_PIPELINED_REQUESTS pipelined in one write, every one', async () => {
    const socket = await open();
    socket.write(get('/openapi.json').repeat(MAX_PIPELINED));
    const { answers, closed } = await readAnswers(socket, MAX_PIPELINED, 10_000);
    socket.destroy();
    expect(closed).toBe(false);
    expect(answers.map((answer) => answer.status)).toEqual(Array(MAX_PIPELINED).fill(200));
  });

  it('serves a kept-alive connection that sends its requests one at a time, however many', async () => {
    const socket = await open();
    for (let n = 1; n <= 3 * MAX_PIPELINED; n += 1) {
      socket.write(get('/healthz', `one-${n}`));
      const { answers } = await readAnswers(socket, 1, 5_000);
      expect(answers.map((answer) => [answer.requestId, answer.status])).toEqual([[`one-${n}`, 200]]);
    }
    socket.destroy();
  });

  it('closes a connection that sends 1,000 requests at once and reads nothing, and the process keeps serving others', async () => {
    const residentBefore = await residentMb();
    const flood = await open();
    flood.pause();
    // About 60 KB in one write: every request in it is parsed as soon as it arrives. Each answer
    // is the OpenAPI document (~200 KB), which this client never reads while it sends.
    flood.write(get('/openapi.json').repeat(1_000));
    await pause(3_000);

    expect(await api.alive(), api.child.output()).toBe(true);
    // The answers were not built: what they would have taken stays free.
    expect(await residentMb()).toBeLessThan(residentBefore + 50);
    const { answers, closed } = await readAnswers(flood, 1_000, 10_000);
    flood.destroy();
    expect(closed).toBe(true);
    expect(answers.length).toBeLessThanOrEqual(MAX_PIPELINED);
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(api.child.output()).toContain('connection closed: MAX_PIPELINED_REQUESTS');
  }, 30_000);
});
