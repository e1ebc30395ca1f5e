import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// No client can make the API unreachable for the others by holding connections: the connections
// go over a real listening port, as a client opens them.

const PER_ADDRESS = 20;
const TOTAL = 30;

let ctx: TestContext;
let port: number;

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    env: { MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS), MAX_CONNECTIONS: String(TOTAL), HTTP_HEADERS_TIMEOUT_MS: '1000' },
  });
  port = Number(new URL(await ctx.app.listen({ port: 0, host: '127.0.0.1' })).port);
});
afterAll(async () => ctx?.close());

/** Every socket a test opened; closed after each test, so the next one starts with none open. */
const opened: Socket[] = [];
afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  await waitFor('the server to see the connections closed', async () => ((await openOnServer()) === 0 ? true : undefined), 5_000);
});

const openOnServer = () => promisify(ctx.app.server.getConnections.bind(ctx.app.server))();

/** A connection from `from` (any 127.x.y.z is this host) that has been accepted by the TCP stack. */
async function open(from = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  opened.push(socket);
  socket.on('error', () => {});
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** Opens `count` connections from `from` and waits until the server holds all of them. */
async function hold(count: number, from: string): Promise<Socket[]> {
  const before = await openOnServer();
  const sockets = [];
  for (let n = 0; n < count; n += 1) sockets.push(await open(from));
  await waitFor(`the server to accept ${count} connections`, async () => ((await openOnServer()) >= before + count ? true : undefined), 5_000);
  return sockets;
}

/** Whether the server closes `socket` within `ms` without sending it anything. */
function closedSilently(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('data', () => resolve(false));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Sends `head` on `socket` and reads until the connection closes or a whole answer is in. */
function ask(socket: Socket, head: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => resolve(text);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (end !== -1 && length && Buffer.byteLength(text.slice(end + 4)) >= Number(length[1])) done();
    });
    socket.once('close', done);
    socket.write(head);
  });
}

const HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';

describe('connections held open by one client', () => {
  it('closes connections past MAX_CONNECTIONS_PER_ADDRESS at once, while the ones held still get answers', async () => {
    const held = await hold(PER_ADDRESS, '127.0.0.1');
    const extra = await Promise.all(Array.from({ length: 5 }, () => open('127.0.0.1')));
    expect(await Promise.all(extra.map((socket) => closedSilently(socket, 2_000)))).toEqual([true, true, true, true, true]);
    expect(await ask(held[0]!, HEALTHZ)).toMatch(/^HTTP\/1\.1 200 /);
    // Another address is not held back by this one's connections.
    expect(await ask(await open('127.0.0.2'), HEALTHZ)).toMatch(/^HTTP\/1\.1 200 /);
    // A connection closed by the client makes room for a new one.
    held[1]!.destroy();
    await waitFor('the server to see a held connection closed', async () => ((await openOnServer()) === PER_ADDRESS ? true : undefined), 5_000);
    expect(await ask(await open('127.0.0.1'), HEALTHZ)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('takes no connection past MAX_CONNECTIONS from any address, and still answers those it holds', async () => {
    const held = [...(await hold(PER_ADDRESS, '127.0.0.1')), ...(await hold(TOTAL - PER_ADDRESS, '127.0.0.2'))];
    expect(await openOnServer()).toBe(TOTAL);
    expect(await closedSilently(await open('127.0.0.3'), 2_000)).toBe(true);
    expect(await ask(held.at(-1)!, HEALTHZ)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers headers not finished within HTTP_HEADERS_TIMEOUT_MS with 408 and the envelope, and closes the connection', async () => {
    const started = Date.now();
    const answer = await ask(await open(), 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"error_code":"REQUEST_TIMEOUT"');
    // The headers never ended: the message does not speak of the body alone.
    expect(answer).toContain('send the headers, then the body, at a steady rate.');
    // 1 s of timeout, looked for every 250 ms.
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('requests the service does not serve', () => {
  it('answers CONNECT with 400 and the envelope instead of closing without a word', async () => {
    const answer = await ask(await open(), 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"error_code":"BAD_REQUEST"');
    expect(answer).toContain('"error":"CONNECT is not supported: this service is no proxy."');
  });

  it('answers 404 NOT_FOUND to a path that climbs out of the docs, not a 403 that no contract code goes with', async () => {
    // Sent as written (curl --path-as-is): a client library would resolve the dots first.
    const answer = await ask(await open(), 'GET /docs/static/../../../package.json HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(answer).toContain('"error":"No route for GET /docs/static/../../../package.json."');
    expect(answer).toContain('"error_code":"NOT_FOUND"');
    expect(await ask(await open(), 'GET /docs/static/swagger-ui.css HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  });
});
