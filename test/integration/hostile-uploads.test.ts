import { storedUploads as uploadsKept } from '../support/stored-files.js';
import { gzipSync } from 'node:zlib';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilQueueReady } from '../support/csv.js';
import { multipartBody } from '../support/multipart.js';
import { pause, streamRequest, type RawAnswer } from '../support/raw-http.js';
import { productsCsv, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// No client, however hostile, can exhaust the API's memory or hold a connection forever: the
// requests go over a real listening port, as a client sends them.

let ctx: TestContext;
let url: string;
let key: string;

beforeAll(async () => {
  // A body gets 1 s, plus a second per 1,000 bytes received: short, so the drip test is quick.
  ctx = await createTestContext({ env: { HTTP_BODY_TIMEOUT_MS: '1000', HTTP_BODY_MIN_BYTES_PER_SECOND: '1000' } });
  await untilQueueReady(ctx);
  url = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  key = (await ctx.createAccount()).key;
});
afterAll(async () => ctx?.close());

/** The parsed error envelope of an answer, after checking its status and code. */
function envelope(answer: RawAnswer, status: number, code: string): { error: string; detail: string } {
  expect(answer.status, answer.body).toBe(status);
  const body = JSON.parse(answer.body) as { error: string; detail: string; error_code: string; timestamp: string };
  expect(body).toMatchObject({ error_code: code, error: expect.any(String), timestamp: expect.any(String) });
  expect(body.detail).toBe(body.error);
  return body;
}

/** Uploads left in the upload store (partial files included) and in PostgreSQL. */
const storedUploads = () => uploadsKept(ctx.db, ctx.uploads.root);

const jobCount = async () => Number((await ctx.db.query('SELECT count(*) FROM jobs')).rows[0].count);

describe('a multipart upload over its limits', () => {
  it('answers 413 to 300 text fields of 1 MiB before the file, with memory flat', async () => {
    const boundary = `----hostile-${randomBytes(6).toString('hex')}`;
    const megabyte = Buffer.alloc(1024 * 1024, 'x');
    async function* body() {
      for (let field = 0; field < 300; field += 1) {
        yield `--${boundary}\r\nContent-Disposition: form-data; name="note${field}"\r\n\r\n`;
        yield megabyte;
        yield '\r\n';
      }
      yield `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n\r\nean,name\n96385074,Pen\r\n--${boundary}--\r\n`;
    }
    const used = () => {
      const memory = process.memoryUsage();
      return memory.heapUsed + memory.external + memory.arrayBuffers;
    };
    const before = used();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, used())), 10);
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': key, 'content-type': `multipart/form-data; boundary=${boundary}` },
      chunks: body(),
    }).finally(() => clearInterval(sampler));

    const { error } = envelope(answer, 413, 'PAYLOAD_TOO_LARGE');
    expect(error).toBe(
      "The multipart body exceeds its limits: at most 10 text fields of at most 65536 bytes, 20 parts in all, and one file, the 'file' field.",
    );
    // Without limits every field stays in memory until the request ends: 300 MiB.
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await storedUploads()).toEqual([]);
    expect(await jobCount()).toBe(0);
  });

  it('answers 413 to one text field over 64 KiB', async () => {
    const boundary = 'one-big-field';
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': key, 'content-type': `multipart/form-data; boundary=${boundary}` },
      chunks: [
        `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n${'y'.repeat(65_537)}\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n\r\nean,name\n96385074,Pen\r\n--${boundary}--\r\n`,
      ],
    });
    envelope(answer, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers 413 to one text field too many followed directly by the file, keeping nothing', async () => {
    const [jobsBefore, uploadsBefore] = [await jobCount(), await storedUploads()];
    const fields = Array.from({ length: 11 }, (_, index) => ({ name: `note${index}`, content: String(index) }));
    const { body, contentType } = multipartBody([...fields, { name: 'file', filename: 'p.csv', content: 'ean,name\n96385074,Pen\n' }]);
    const response = await ctx.upload(key, body, {}, { 'content-type': contentType });
    expect(response.statusCode, response.body).toBe(413);
    expect(response.json()).toMatchObject({ error_code: 'PAYLOAD_TOO_LARGE', limit_fields: 10 });
    expect([await jobCount(), await storedUploads()]).toEqual([jobsBefore, uploadsBefore]);

    const { body: atLimit, contentType: atLimitType } = multipartBody([...fields.slice(1), { name: 'file', filename: 'p.csv', content: 'ean\n96385074\n' }]);
    expect((await ctx.upload(key, atLimit, {}, { 'content-type': atLimitType })).statusCode).toBe(202);
  });

  it('refuses a multipart body of two files with 413, importing neither, so the second is not dropped unseen', async () => {
    const [jobsBefore, uploadsBefore] = [await jobCount(), await storedUploads()];
    const big = productsCsv(1, 3_000, 'First');
    for (const second of ['file', 'other']) {
      const { body, contentType } = multipartBody([
        { name: 'file', filename: 'first.csv', content: big },
        { name: second, filename: 'second.csv', content: 'ean,name\n96385074,Pen\n' },
      ]);
      const response = await ctx.upload(key, body, {}, { 'content-type': contentType });
      expect(response.statusCode, response.body).toBe(413);
      expect(response.json()).toMatchObject({ error_code: 'PAYLOAD_TOO_LARGE', error: expect.stringContaining("and one file, the 'file' field") });
    }
    expect([await jobCount(), await storedUploads()]).toEqual([jobsBefore, uploadsBefore]);
  });

  it('still takes a file beside a few small fields', async () => {
    const boundary = 'few-fields';
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': key, 'content-type': `multipart/form-data; boundary=${boundary}` },
      chunks: [
        `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n${'y'.repeat(65_536)}\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n\r\nean,name\n96385074,Pen\r\n--${boundary}--\r\n`,
      ],
    });
    expect(answer.status, answer.body).toBe(202);
    const job = await ctx.waitForJob(key, (JSON.parse(answer.body) as { id: string }).id);
    expect(job.status).toBe('completed');
  });
});

describe('bodies and headers the service will not read', () => {
  it.each([
    ['without a boundary', 'multipart/form-data', 'ean,name\n96385074,Pen\n', "The multipart body has no boundary: send Content-Type 'multipart/form-data; boundary=…'."],
    ['that is no multipart body', 'multipart/form-data; boundary=xyz', 'ean,name\n96385074,Pen\n', 'The multipart body ends before its closing boundary.'],
    [
      'cut off inside its file',
      'multipart/form-data; boundary=xyz',
      '--xyz\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n\r\nean,name\n96385074,Pen\n',
      'The multipart body ends before its closing boundary.',
    ],
  ])('refuses a multipart upload %s with 400, keeping nothing', async (_name, contentType, body, message) => {
    const [jobsBefore, uploadsBefore] = [await jobCount(), await storedUploads()];
    const answer = await streamRequest(`${url}/v1/imports`, { headers: { 'x-api-key': key, 'content-type': contentType }, chunks: [body] });
    expect(envelope(answer, 400, 'BAD_REQUEST').error).toBe(message);
    expect([await jobCount(), await storedUploads()]).toEqual([jobsBefore, uploadsBefore]);
  });

  it('refuses a multipart boundary over 70 characters (RFC 2046) or empty with 400 naming it, where one of 253 was a 500, and takes one of 70', async () => {
    const upload = (boundary: string, quoted = false) =>
      streamRequest(`${url}/v1/imports`, {
        headers: { 'x-api-key': key, 'content-type': `multipart/form-data; boundary=${quoted ? `"${boundary}"` : boundary}` },
        chunks: [`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n\r\nean,name\n96385074,Pen\r\n--${boundary}--\r\n`],
      });
    const [jobsBefore, uploadsBefore] = [await jobCount(), await storedUploads()];
    for (const length of [253, 71]) {
      const { error } = envelope(await upload('b'.repeat(length)), 400, 'BAD_REQUEST');
      expect(error).toBe(`The multipart boundary is ${length} characters long: it must be 1 to 70 characters (RFC 2046).`);
    }
    const empty = envelope(await upload('', true), 400, 'BAD_REQUEST');
    expect(empty.error).toBe('The multipart boundary is empty: it must be 1 to 70 characters (RFC 2046).');
    expect([await jobCount(), await storedUploads()]).toEqual([jobsBefore, uploadsBefore]);
    const longest = await upload('b'.repeat(70));
    expect(longest.status, longest.body).toBe(202);
  });

  it('refuses a gzip-encoded upload with 415 instead of storing compressed bytes', async () => {
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': key, 'content-type': 'text/csv', 'content-encoding': 'gzip' },
      chunks: [gzipSync('ean,name\n96385074,Pen\n')],
    });
    const { error } = envelope(answer, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(error).toBe("Unsupported Content-Encoding 'gzip': send the request body uncompressed, without a Content-Encoding.");
  });

  it('answers 431 with the envelope to headers over 16 KiB, and stays up', async () => {
    const answer = await streamRequest(`${url}/v1/jobs`, {
      method: 'GET',
      headers: { 'x-api-key': key, 'x-padding': 'p'.repeat(20 * 1024) },
      chunks: [],
    });
    envelope(answer, 431, 'REQUEST_HEADERS_TOO_LARGE');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

/** A raw HTTP/1.1 exchange: writes `head`, then reads until `done` says the text so far is enough. */
async function exchange(head: string, done: (text: string) => boolean, then?: (socket: Socket, text: string) => void): Promise<string> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  let text = '';
  let continued = false;
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (then && !continued && text.includes('\r\n\r\n')) {
          continued = true;
          then(socket, text);
        }
        if (done(text)) resolve(text);
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(head);
    });
  } finally {
    socket.destroy();
  }
}

/** Whether `text` holds a whole final answer (not a 100 Continue): its head, and its body when it has a Content-Length. */
function finalAnswerIn(text: string): boolean {
  const start = text.search(/HTTP\/1\.1 [2-5]\d\d /);
  if (start === -1) return false;
  const answer = text.slice(start);
  const end = answer.indexOf('\r\n\r\n');
  const length = /content-length: (\d+)/i.exec(answer);
  return end !== -1 && (length === null || Buffer.byteLength(answer.slice(end + 4)) >= Number(length[1]));
}

describe('what a client expects of the connection', () => {
  it('refuses a bad key before sending 100 Continue, so the client never sends its file', async () => {
    const jobsBefore = await jobCount();
    const answer = await exchange(
      `POST /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: ck_wrong\r\nContent-Type: text/csv\r\n` +
        'Content-Length: 100000000\r\nExpect: 100-continue\r\n\r\n',
      finalAnswerIn,
    );
    expect(answer).not.toContain('100 Continue');
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"error_code":"INVALID_API_KEY"');
    expect(await jobCount()).toBe(jobsBefore);
  });

  it.each([
    ['a CSV body', 'text/csv', 1024 * 1024 * 1024 + 1],
    ['a multipart body', 'multipart/form-data; boundary=xyz', 2 * 1024 * 1024 * 1024],
  ])('refuses %s whose Content-Length is over MAX_UPLOAD_BYTES with 413 before 100 Continue', async (_name, contentType, length) => {
    const [jobsBefore, uploadsBefore] = [await jobCount(), await storedUploads()];
    const answer = await exchange(
      `POST /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: ${contentType}\r\n` +
        `Content-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`,
      finalAnswerIn,
    );
    expect(answer).not.toContain('100 Continue');
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"error":"The upload exceeds the limit of 1073741824 bytes."');
    expect(answer).toContain('"error_code":"PAYLOAD_TOO_LARGE"');
    expect([await jobCount(), await storedUploads()]).toEqual([jobsBefore, uploadsBefore]);
  });

  it('answers 413 at once to a Content-Length of 100 TB, without waiting for the body, and closes the connection', async () => {
    const answer = await exchange(
      `POST /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: text/csv\r\nContent-Length: 99999999999999\r\n\r\nean,name\n`,
      finalAnswerIn,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"error_code":"PAYLOAD_TOO_LARGE"');
  });

  it('sends 100 Continue to a request it will read, and takes the body that follows', async () => {
    const body = 'ean,name\n96385074,Pen\n';
    const answer = await exchange(
      `POST /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: text/csv\r\n` +
        `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
      finalAnswerIn,
      (socket, text) => {
        expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
        socket.write(body);
      },
    );
    expect(answer).toMatch(/HTTP\/1\.1 202 /);
  });

  it('ignores an expectation it does not know, and answers a request without Host with the envelope', async () => {
    const expecting = await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n', finalAnswerIn);
    expect(expecting).toMatch(/^HTTP\/1\.1 200 /);
    const hostless = await exchange(`GET /v1/jobs HTTP/1.1\r\nX-API-Key: ${key}\r\n\r\n`, finalAnswerIn);
    expect(hostless).toMatch(/^HTTP\/1\.1 400 /);
    expect(hostless).toContain('"error":"The request has no Host header."');
    expect(hostless).toContain('"error_code":"BAD_REQUEST"');
  });
});

describe('a slow request body', () => {
  it('cuts off a client that drips its body one byte every 2 s, keeping nothing', async () => {
    const jobsBefore = await jobCount();
    const uploadsBefore = await storedUploads();
    const csv = 'ean,name\n96385074,Pen\n';
    async function* drip() {
      for (const byte of csv) {
        yield byte;
        await pause(2_000);
      }
    }
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': key, 'content-type': 'text/csv', 'content-length': String(csv.length) },
      chunks: drip(),
    });
    envelope(answer, 408, 'REQUEST_TIMEOUT');
    expect(answer.headers.connection).toBe('close');
    await waitFor('the partial upload to be removed', async () => ((await storedUploads()).length === uploadsBefore.length ? true : undefined), 5_000);
    expect(await jobCount()).toBe(jobsBefore);
  });

  it('takes an upload that keeps a sane rate for longer than the initial allowance', async () => {
    const csv = productsCsv(1, 2_000, 'Steady');
    const pieces = 8;
    const size = Math.ceil(csv.length / pieces);
    async function* steady() {
      for (let start = 0; start < csv.length; start += size) {
        yield csv.subarray(start, start + size);
        await pause(300);
      }
    }
    // About 2.4 s in all, over 1 s: a total deadline of 1 s would cut it, the rate does not.
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': key, 'content-type': 'text/csv', 'content-length': String(csv.length) },
      chunks: steady(),
    });
    expect(answer.status, answer.body).toBe(202);
    const job = await ctx.waitForJob(key, (JSON.parse(answer.body) as { id: string }).id);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2_000 } });
  });
});
