import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/shared/logger.js';
import { untilQueueReady } from '../support/csv.js';
import { multipartBody } from '../support/multipart.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A body that stops arriving gets its 408 from the body timeout, which then ends the request: the
// route's read of the upload fails after the answer. That is the client's doing, answered as the
// contract says, and no error of the service for an operator's log.

let ctx: TestContext;
let port: number;
let key: string;
let logged = '';

beforeAll(async () => {
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  // A body gets 1 s, plus a second per 1,000 bytes received.
  ctx = await createTestContext({
    workers: false,
    logger: pino(loggerOptions('debug'), sink),
    env: { HTTP_BODY_TIMEOUT_MS: '1000', HTTP_BODY_MIN_BYTES_PER_SECOND: '1000' },
  });
  await untilQueueReady(ctx);
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  port = (ctx.app.server.address() as { port: number }).port;
  key = (await ctx.createAccount()).key;
});
afterAll(async () => ctx?.close());

/** Writes `request` and stays silent; resolves with what came back once the server closed the connection. */
async function goSilent(request: string | Buffer): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  socket.write(request);
  await new Promise((resolve) => socket.once('close', resolve));
  return text;
}

/** The log lines written for the request `reqId`. */
const linesOf = (reqId: string) =>
  logged
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string; reqId?: string })
    .filter((line) => line.reqId === reqId);

describe('an upload that goes silent', () => {
  it.each([
    ['a chunked CSV body after its first chunk', (head: string) => `${head}Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nean,name\n`],
    [
      'a multipart body inside its file',
      (head: string) => {
        const { body, contentType } = multipartBody([{ name: 'file', filename: 'p.csv', content: 'ean,name\n96385074,Pen\n' }]);
        return `${head}Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n${body.subarray(0, body.length - 40).toString()}`;
      },
    ],
  ])('gets 408 for %s, logged as the client going slow, not as an error', async (_name, request) => {
    logged = '';
    const reqId = `silent-${Math.random().toString(36).slice(2)}`;
    const answer = await goSilent(request(`POST /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nX-Request-Id: ${reqId}\r\n`));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"error_code":"REQUEST_TIMEOUT"');
    await waitFor('the request to be logged as completed', async () => (linesOf(reqId).some((line) => line.msg === 'request completed') ? true : undefined));
    // The route's read fails a moment after the answer.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lines = linesOf(reqId);
    expect(lines.some((line) => line.msg === 'request body too slow: closing the connection')).toBe(true);
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
  });
});
