import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/cli/api-client.js';
import { CliError, EXIT } from '../../src/cli/exit-codes.js';

/** One scripted answer of the stand-in server: status, headers, JSON body. */
type Answer = [number, Record<string, string>, unknown];

const envelope = (code: string, error: string, extra: Record<string, unknown> = {}) => ({
  error,
  detail: error,
  error_code: code,
  timestamp: '2026-05-14T10:30:00Z',
  ...extra,
});

let server: Server | null = null;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = null;
});

/**
 * A loopback stand-in for a proxy or an overloaded service that gives the scripted answers in
 * order (the last one repeats); returns its URL and the requests it received.
 */
async function standIn(answers: Answer[]): Promise<{ url: string; requests: Array<{ key: string | undefined }> }> {
  const requests: Array<{ key: string | undefined }> = [];
  server = createServer((request, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      const [status, headers, body] = answers[Math.min(requests.length, answers.length - 1)]!;
      requests.push({ key: request.headers['idempotency-key'] as string | undefined });
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests };
}

const clientFor = (url: string, notices: string[] = [], answerTimeoutMs = 60_000) =>
  createApiClient({ baseUrl: url, apiKey: 'secret-key', retries: 4, retryBaseMs: 1, eventsIdleMs: 45_000, answerTimeoutMs }, (line) =>
    notices.push(line),
  );

/** A stand-in that reads each request whole and then answers after `delayMs`, or never (null). */
async function slowStandIn(delayMs: number | null): Promise<{ url: string; received: () => number }> {
  let received = 0;
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received += 1;
      if (delayMs !== null) setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, received: () => received };
}

/** A stand-in whose `answer` handles the n-th request (from 0) once its body has been read; returns its URL and the requests. */
async function scriptedStandIn(
  answer: (response: ServerResponse, index: number, request: IncomingMessage) => void,
): Promise<{ url: string; requests: Array<{ method: string; url: string; key: string | undefined }> }> {
  const requests: Array<{ method: string; url: string; key: string | undefined }> = [];
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests.push({ method: request.method!, url: request.url!, key: request.headers['idempotency-key'] as string | undefined });
      answer(response, requests.length - 1, request);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests };
}

/** Answers 200 with a Content-Length of 100, sends 7 bytes of it, then drops the connection. */
function cutOff(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
  response.write('{"id":"');
  setTimeout(() => response.socket?.destroy(), 20);
}

/** A body stream of a small CSV file, as an upload sends it. */
const csvBody = (sent: () => void) => {
  sent();
  return { stream: new Blob(['ean,name\n4006381333931,Pen\n']).stream(), contentType: 'text/csv' };
};

async function failureOf(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(() => null, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('the CLI HTTP client', () => {
  it('gives a request that gets no answer up after the answer timeout, retries it, and ends with exit 5 naming the wait', async () => {
    const stand = await slowStandIn(null);
    const notices: string[] = [];
    const started = Date.now();
    const failure = await failureOf(clientFor(stand.url, notices, 300).send('GET', '/v1/usage'));
    expect(failure.exitCode).toBe(EXIT.server);
    expect(failure.message).toContain('no answer within 0.3 s');
    expect(stand.received()).toBe(4);
    expect(notices[0]).toMatch(/no answer within 0\.3 s.*retrying/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('starts the answer timeout once an upload is sent whole, however long sending it took', async () => {
    const stand = await slowStandIn(100);
    const chunks = 6;
    const body = (sent: () => void) => {
      let given = 0;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 150));
          if (given++ < chunks) return controller.enqueue(new TextEncoder().encode('ean,name\n'));
          sent();
          controller.close();
        },
      });
      return { stream, contentType: 'text/csv' };
    };
    const answer = await clientFor(stand.url, [], 400).json('POST', '/v1/imports', { body });
    expect(answer).toEqual({ ok: true });
    expect(stand.received()).toBe(1);
  });

  it('retries 5xx answers with back-off and keeps the Idempotency-Key', async () => {
    const unavailable = envelope('SERVICE_UNAVAILABLE', 'Service unavailable.');
    const stand = await standIn([[503, {}, unavailable], [502, {}, {}], [202, {}, { id: 'job', status: 'processing' }]]);
    const notices: string[] = [];
    const body = await clientFor(stand.url, notices).json('POST', '/v1/exports', { json: {}, headers: { 'idempotency-key': 'k-1' } });
    expect(body).toEqual({ id: 'job', status: 'processing' });
    expect(stand.requests.map((request) => request.key)).toEqual(['k-1', 'k-1', 'k-1']);
    expect(notices).toEqual([expect.stringMatching(/answered 503; retrying/), expect.stringMatching(/answered 502; retrying/)]);
  });

  it('gives up with exit 5 after the last attempt of a 5xx', async () => {
    const stand = await standIn([[500, {}, envelope('INTERNAL_ERROR', 'Internal server error.')]]);
    const failure = await failureOf(clientFor(stand.url).send('GET', '/v1/usage'));
    expect(failure).toMatchObject({ exitCode: EXIT.server, errorCode: 'INTERNAL_ERROR', message: 'Internal server error.' });
    expect(stand.requests).toHaveLength(4);
  });

  it('does not retry a 4xx answer', async () => {
    const stand = await standIn([[400, {}, envelope('BAD_REQUEST', 'mode must be one of upsert, create, update.')]]);
    const failure = await failureOf(clientFor(stand.url).send('POST', '/v1/imports'));
    expect(failure).toMatchObject({ exitCode: EXIT.usage, errorCode: 'BAD_REQUEST' });
    expect(stand.requests).toHaveLength(1);
  });

  it('waits out Retry-After on a per-minute 429, then goes on', async () => {
    const limited = envelope('RATE_LIMIT_EXCEEDED', 'Per-minute rate limit exceeded.', { retry_after_seconds: 0 });
    const stand = await standIn([[429, { 'retry-after': '0' }, limited], [200, {}, { ok: true }]]);
    const notices: string[] = [];
    expect(await clientFor(stand.url, notices).json('GET', '/v1/usage')).toEqual({ ok: true });
    expect(notices).toEqual(['Per-minute rate limit exceeded. Waiting 0 s (Retry-After).']);
  });

  it('exits 4 when the per-minute limit persists, and at once on the monthly quota', async () => {
    const limited = envelope('RATE_LIMIT_EXCEEDED', 'Per-minute rate limit exceeded.');
    const perMinute = await standIn([[429, { 'retry-after': '0' }, limited]]);
    expect(await failureOf(clientFor(perMinute.url).send('GET', '/v1/usage'))).toMatchObject({ exitCode: EXIT.limit });
    expect(perMinute.requests).toHaveLength(4);
    server?.close();

    const quota = await standIn([[429, {}, envelope('QUOTA_EXCEEDED', 'Monthly quota exceeded.', { limit: 1000, tier: 'FREE' })]]);
    expect(await failureOf(clientFor(quota.url).send('GET', '/v1/usage'))).toMatchObject({ exitCode: EXIT.limit, errorCode: 'QUOTA_EXCEEDED' });
    expect(quota.requests).toHaveLength(1);
  });

  it('exits 3 on 401 and 403', async () => {
    const stand = await standIn([[403, {}, envelope('PERMISSION_DENIED', 'This key lacks the imports:write scope.')]]);
    expect(await failureOf(clientFor(stand.url).send('POST', '/v1/imports'))).toMatchObject({ exitCode: EXIT.auth });
  });

  it('fails at once with exit 2 on a header value no request can carry, naming the header but never its value', async () => {
    const stand = await standIn([[200, {}, { ok: true }]]);
    const notices: string[] = [];
    const request = { headers: { 'last-event-id': 'one\ntwo-SECRET' } };
    const failure = await failureOf(clientFor(stand.url, notices).send('GET', '/v1/jobs/x/events', request));
    expect(failure).toMatchObject({ exitCode: EXIT.usage, afterLostAnswer: false });
    expect(failure.message).toContain('The last-event-id header has a value no HTTP request can carry; nothing was sent');
    expect(failure.message).not.toContain('SECRET');
    expect(notices).toEqual([]);
    expect(stand.requests).toHaveLength(0);
  });
});

describe('the CLI HTTP client on a redirect', () => {
  it('does not follow a 307 to an upload, sends it once and names the address to use (exit 2)', async () => {
    const stand = await scriptedStandIn((response) => response.writeHead(307, { location: 'https://catalog.example/v1/imports?mode=upsert' }).end());
    const notices: string[] = [];
    const failure = await failureOf(clientFor(stand.url, notices).json('POST', '/v1/imports', { body: csvBody, query: { mode: 'upsert' } }));
    expect(failure).toMatchObject({ exitCode: EXIT.usage, afterLostAnswer: false });
    expect(failure.message).toBe(
      'The service answered 307 redirecting to https://catalog.example/v1/imports?mode=upsert; set CATALOG_URL or --url to https://catalog.example.',
    );
    // The upload once; where the redirect points is asked with a HEAD, without the file.
    expect(stand.requests.map((request) => request.method)).toEqual(['POST', 'HEAD']);
    expect(notices).toEqual([]);
  });

  it('says an upload was redirected, without retrying it, when the address gives a HEAD no redirect', async () => {
    const stand = await scriptedStandIn((response, _index, request) =>
      request.method === 'HEAD' ? response.writeHead(404).end() : response.writeHead(308, { location: 'https://catalog.example/v1/imports' }).end(),
    );
    const notices: string[] = [];
    const failure = await failureOf(clientFor(stand.url, notices).json('POST', '/v1/imports', { body: csvBody }));
    expect(failure).toMatchObject({ exitCode: EXIT.usage, afterLostAnswer: false });
    expect(failure.message).toBe('The service answered the upload with a redirect; check CATALOG_URL or --url.');
    expect(stand.requests.filter((request) => request.method === 'POST')).toHaveLength(1);
    expect(notices).toEqual([]);
  });

  it('stops at the first answer of a redirect loop, and never takes a redirect to another origin for a missing key', async () => {
    const loop = await scriptedStandIn((response) => response.writeHead(302, { location: '/v1/usage' }).end());
    const looped = await failureOf(clientFor(loop.url).send('GET', '/v1/usage'));
    expect(looped.message).toBe(`The service answered 302 redirecting to ${loop.url}/v1/usage; set CATALOG_URL or --url to ${loop.url}.`);
    expect(loop.requests).toHaveLength(1);
    server?.close();

    // http to https on another port: fetch would follow it without the Authorization header.
    const target = await scriptedStandIn((response, _index, request) =>
      response.writeHead(request.headers.authorization ? 200 : 401, { 'content-type': 'application/json' }).end('{"error":"Missing API key."}'),
    );
    const targetServer = server;
    const moved = await scriptedStandIn((response) => response.writeHead(301, { location: `${target.url}/api/v1/usage` }).end());
    const failure = await failureOf(clientFor(moved.url).send('GET', '/v1/usage'));
    targetServer?.close();
    expect(failure).toMatchObject({ exitCode: EXIT.usage });
    expect(failure.message).toBe(`The service answered 301 redirecting to ${target.url}/api/v1/usage; set CATALOG_URL or --url to ${target.url}/api.`);
    expect(target.requests).toHaveLength(0);
  });

  it('follows the redirect of a download (a presigned storage URL)', async () => {
    const storage = await scriptedStandIn((response) => response.writeHead(200, { 'content-type': 'text/csv' }).end('ean,name\n'));
    const storageServer = server;
    const api = await scriptedStandIn((response) => response.writeHead(302, { location: `${storage.url}/bucket/file.csv?signature=x` }).end());
    const response = await clientFor(api.url).send('GET', '/v1/jobs/j/result', { followRedirect: true });
    expect(await response.text()).toBe('ean,name\n');
    storageServer?.close();
  });
});

describe('the CLI HTTP client on an answer cut off mid-body', () => {
  it('reads the body again on a retried GET, saying the answer was cut off', async () => {
    const stand = await scriptedStandIn((response, index) => (index === 0 ? cutOff(response) : response.writeHead(200).end('{"ok":true}')));
    const notices: string[] = [];
    expect(await clientFor(stand.url, notices).json('GET', '/v1/usage')).toEqual({ ok: true });
    expect(stand.requests).toHaveLength(2);
    expect(notices).toEqual([expect.stringMatching(/^network error \(the answer was cut off: \S+\); retrying/)]);
  });

  it('sends an upload again with its Idempotency-Key when its 202 is cut off, and returns the job', async () => {
    const accepted = '{"id":"job-1","status":"processing"}';
    const stand = await scriptedStandIn((response, index) => (index === 0 ? cutOff(response) : response.writeHead(202).end(accepted)));
    const request = { body: csvBody, headers: { 'idempotency-key': 'k-1' } };
    expect(await clientFor(stand.url).json('POST', '/v1/imports', request)).toEqual({ id: 'job-1', status: 'processing' });
    expect(stand.requests.map((sent) => sent.key)).toEqual(['k-1', 'k-1']);
  });

  it('does not send again a request that may not be resent, and says its answer was lost (exit 5)', async () => {
    const stand = await scriptedStandIn((response) => cutOff(response));
    const failure = await failureOf(clientFor(stand.url).json('POST', '/v1/jobs/j/retry', { resend: false }));
    expect(failure).toMatchObject({ exitCode: EXIT.server, afterLostAnswer: true });
    expect(failure.message).toMatch(/^Could not reach http:\/\/127\.0\.0\.1:\d+: the answer was cut off: \S+\.$/);
    expect(stand.requests).toHaveLength(1);
  });
});

describe('the CLI HTTP client on Retry-After', () => {
  const limited = envelope('RATE_LIMIT_EXCEEDED', 'Per-minute rate limit exceeded.');

  it('waits until the date of a Retry-After in HTTP-date form', async () => {
    const until = new Date(Date.now() + 2_000).toUTCString();
    const stand = await standIn([[429, { 'retry-after': until }, limited], [200, {}, { ok: true }]]);
    const notices: string[] = [];
    const started = Date.now();
    expect(await clientFor(stand.url, notices).json('GET', '/v1/usage')).toEqual({ ok: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(Date.parse(until) - started - 50);
    expect(notices).toEqual([expect.stringMatching(/^Per-minute rate limit exceeded\. Waiting [12] s \(Retry-After\)\.$/)]);
  });

  it('caps a Retry-After of weeks at a minute, and waits it rather than not at all', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const stand = await standIn([[429, { 'retry-after': '4000000' }, limited], [200, {}, { ok: true }]]);
    const notices: string[] = [];
    const stop = new AbortController();
    const sent = clientFor(stand.url, notices).json('GET', '/v1/usage', { signal: stop.signal }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop.abort();
    await sent;
    process.off('warning', onWarning);
    expect(notices).toEqual(['Per-minute rate limit exceeded. Waiting 60 s (Retry-After).']);
    expect(stand.requests).toHaveLength(1);
    expect(warnings.map((warning) => warning.name)).not.toContain('TimeoutOverflowWarning');
  });
});
