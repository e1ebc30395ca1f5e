import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExportJob } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A fetcher cut off at 490 MB of a 500 MB export resumes with a Range request instead of starting
// again, and checks whether the file changed with If-None-Match (RFC 9110), on both stores.

describe.each([
  ['the local folder', {}],
  ['object storage', { storage: 's3' as const }],
])('downloading an export result from %s', (_name, options) => {
  let ctx: TestContext;
  let key: string;
  let jobId: string;
  /** The whole file, as a plain GET gives it. */
  let file: Buffer;
  let whole: LightMyRequestResponse;

  beforeAll(async () => {
    ctx = await createTestContext(options);
    const account = await ctx.createAccount();
    key = account.key;
    // About 1.5 MB: ranges cross the local store's 256 KiB reads.
    await ctx.db.query(
      `INSERT INTO products (account_id, ean, name, description)
       SELECT $1, lpad(n::text, 13, '0'), 'Product ' || n, repeat('long description ', 3) FROM generate_series(1, 20000) AS n`,
      [account.id],
    );
    jobId = (await runExportJob(ctx, key, { format: 'csv', fields: ['ean', 'name', 'description'] })).id;
    whole = await download();
    file = whole.rawPayload;
  }, 60_000);
  afterAll(async () => ctx?.close());

  function download(headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<LightMyRequestResponse> {
    return ctx.app.inject({ method, url: `/v1/jobs/${jobId}/result`, headers: { 'x-api-key': key, ...headers } });
  }

  it('answers 200 with the whole file, Accept-Ranges, a strong ETag and the end of the job as Last-Modified', async () => {
    expect(whole.statusCode).toBe(200);
    expect(file.length).toBeGreaterThan(1_000_000);
    expect(whole.headers).toMatchObject({ 'accept-ranges': 'bytes', 'content-length': String(file.length), etag: expect.stringMatching(/^"[^"]+"$/) });
    const job = (await ctx.get(key, `/v1/jobs/${jobId}`)).json<{ finished_at: string }>();
    expect(whole.headers['last-modified']).toBe(new Date(job.finished_at).toUTCString());
    expect((await download()).headers.etag).toBe(whole.headers.etag);
  });

  it('answers 206 with exactly the bytes of one range: closed, open-ended, the last n bytes, or cut at the end', async () => {
    const size = file.length;
    const cases: Array<[string, number, number]> = [
      ['bytes=100-199', 100, 199],
      ['bytes=0-0', 0, 0],
      ['bytes=262000-300000', 262_000, 300_000],
      [`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
      ['bytes=1000000-', 1_000_000, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=-${size + 7}`, 0, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const response = await download({ range });
      expect(response.statusCode, range).toBe(206);
      expect(response.headers, range).toMatchObject({
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': String(end - start + 1),
        'accept-ranges': 'bytes',
        etag: whole.headers.etag,
        'content-disposition': whole.headers['content-disposition'],
      });
      expect(response.rawPayload.equals(file.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('resumes a download cut off part-way: the rest appended to the part received is the file', async () => {
    const received = file.subarray(0, 777_777);
    const rest = await download({ range: `bytes=${received.length}-`, 'if-range': whole.headers.etag as string });
    expect(rest.statusCode).toBe(206);
    expect(Buffer.concat([received, rest.rawPayload]).equals(file)).toBe(true);
  });

  it('answers 416 RANGE_NOT_SATISFIABLE with Content-Range bytes */<size> to a range past the end', async () => {
    for (const range of [`bytes=${file.length}-`, `bytes=${file.length + 5}-${file.length + 10}`, 'bytes=-0']) {
      const response = await download({ range });
      expect(response.statusCode, range).toBe(416);
      expect(response.headers['content-range'], range).toBe(`bytes */${file.length}`);
      expect(response.json(), range).toMatchObject({
        error_code: 'RANGE_NOT_SATISFIABLE',
        error: expect.stringContaining(`the file has ${file.length} bytes`),
      });
    }
  });

  it('sends the whole file (200) for several ranges, another unit or a malformed Range', async () => {
    for (const range of ['bytes=0-9,20-29', 'items=0-9', 'bytes=9-2', 'bytes=abc', 'bytes=-']) {
      const response = await download({ range });
      expect([response.statusCode, response.headers['accept-ranges']], range).toEqual([200, 'bytes']);
      expect(response.headers['content-range'], range).toBeUndefined();
      expect(response.rawPayload.equals(file), range).toBe(true);
    }
  });

  it('answers 304 without a body to If-None-Match with the ETag (or *), and 200 to another tag', async () => {
    const etag = whole.headers.etag as string;
    for (const ifNoneMatch of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const response = await download({ 'if-none-match': ifNoneMatch });
      expect([response.statusCode, response.body, response.headers.etag], ifNoneMatch).toEqual([304, '', etag]);
    }
    const changed = await download({ 'if-none-match': '"other"' });
    expect(changed.statusCode).toBe(200);
    expect(changed.rawPayload.equals(file)).toBe(true);
  });

  it('answers If-Modified-Since with 304 unless the file is newer, and ignores it beside If-None-Match', async () => {
    const lastModified = whole.headers['last-modified'] as string;
    expect((await download({ 'if-modified-since': lastModified })).statusCode).toBe(304);
    const before = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await download({ 'if-modified-since': before })).statusCode).toBe(200);
    expect((await download({ 'if-modified-since': lastModified, 'if-none-match': '"other"' })).statusCode).toBe(200);
    // The obsolete forms of the same date count; anything that is not an HTTP-date is ignored.
    const time = new Date(Date.parse(lastModified));
    const [weekday, day, month, year, clock] = lastModified.replace(',', '').split(' ') as [string, string, string, string, string];
    const longDay = time.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
    expect((await download({ 'if-modified-since': `${longDay}, ${day}-${month}-${year.slice(2)} ${clock} GMT` })).statusCode).toBe(304);
    expect((await download({ 'if-modified-since': `${weekday} ${month} ${String(time.getUTCDate()).padStart(2)} ${clock} ${year}` })).statusCode).toBe(304);
    for (const malformed of ['garbage 3000', '99999', '2099-01-01', 'Tuesday, 31 Dec 2099', 'Tue, 30 Feb 2099 00:00:00 GMT', 'Sun Feb 31 00:00:00 2099']) {
      const response = await download({ 'if-modified-since': malformed });
      expect([response.statusCode, response.rawPayload.equals(file)], malformed).toEqual([200, true]);
    }
  });

  it('sends the whole file (200) when If-Range names another version, and the range when it names this one', async () => {
    for (const ifRange of ['"another-version"', `W/${whole.headers.etag as string}`, 'Thu, 01 Jan 2015 00:00:00 GMT']) {
      const response = await download({ range: 'bytes=100-199', 'if-range': ifRange });
      expect(response.statusCode, ifRange).toBe(200);
      expect(response.rawPayload.equals(file), ifRange).toBe(true);
    }
    for (const ifRange of [whole.headers.etag as string, whole.headers['last-modified'] as string]) {
      const response = await download({ range: 'bytes=100-199', 'if-range': ifRange });
      expect(response.statusCode, ifRange).toBe(206);
      expect(response.rawPayload.equals(file.subarray(100, 200)), ifRange).toBe(true);
    }
  });

  it("answers HEAD with the GET's validators and length, without a body; 304 to its If-None-Match", async () => {
    const head = await download({}, 'HEAD');
    expect([head.statusCode, head.body]).toEqual([200, '']);
    for (const name of ['etag', 'last-modified', 'accept-ranges', 'content-length', 'content-type', 'content-disposition']) {
      expect(head.headers[name], name).toBe(whole.headers[name]);
    }
    // Range is defined for GET alone (RFC 9110 §14.2): a HEAD describes the whole file.
    const ranged = await download({ range: 'bytes=0-9' }, 'HEAD');
    expect([ranged.statusCode, ranged.headers['content-length']]).toEqual([200, String(file.length)]);
    const current = await download({ 'if-none-match': whole.headers.etag as string }, 'HEAD');
    expect([current.statusCode, current.body]).toEqual([304, '']);
  });

  it("gives another export's file another ETag", async () => {
    const other = await runExportJob(ctx, key, { format: 'csv', fields: ['ean', 'name', 'description'] });
    const response = await ctx.app.inject({ method: 'HEAD', url: `/v1/jobs/${other.id}/result`, headers: { 'x-api-key': key } });
    expect(response.headers.etag).toMatch(/^"[^"]+"$/);
    expect(response.headers.etag).not.toBe(whole.headers.etag);
    const stale = await ctx.app.inject({
      method: 'GET',
      url: `/v1/jobs/${other.id}/result`,
      headers: { 'x-api-key': key, 'if-none-match': whole.headers.etag as string },
    });
    expect(stale.statusCode).toBe(200);
  });
});
