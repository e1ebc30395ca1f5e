import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileCli, runProcess, startProcess, type CompiledCli } from '../support/cli-runner.js';

// The CLI as a user runs it, against stand-in services that misbehave in ways the real one does
// not on its own: a proxy that redirects, a connection that drops mid-answer, a stream that sends
// what is not a job. Each stand-in listens on a port of its own.

const JOB_ID = '3f2a9c4e-8d1b-4c6a-9e2f-7a5b1c0d9e84';
let compiled: CompiledCli;
let folder: string;
let products: string;
let server: Server | null = null;

beforeAll(async () => {
  compiled = await compileCli();
  folder = await mkdtemp(join(tmpdir(), 'catalog-cli-stand-ins-'));
  products = join(folder, 'products.csv');
  await writeFile(products, 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n');
});
afterAll(async () => {
  await compiled?.remove();
  if (folder) await rm(folder, { recursive: true, force: true });
});
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = null;
});

interface Received {
  method: string;
  url: string;
  key: string | undefined;
}

/** A stand-in service: `answer` handles each request once its body is read; returns its URL and what it received. */
async function standIn(answer: (request: IncomingMessage, response: ServerResponse, index: number) => void): Promise<{ url: string; requests: Received[] }> {
  const requests: Received[] = [];
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests.push({ method: request.method!, url: request.url!, key: request.headers['idempotency-key'] as string | undefined });
      answer(request, response, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests };
}

const env = (url: string) => ({ CATALOG_URL: url, CATALOG_API_KEY: 'ck_test_key', CATALOG_RETRY_BASE_MS: '20' });

/** A completed export job whose result is at /v1/jobs/{id}/result. */
const exportJob = {
  id: JOB_ID,
  type: 'export',
  status: 'completed',
  phase: 'done',
  error_code: null,
  detail: null,
  progress: { rows_total: 1, rows_processed: 1, rows_succeeded: 1, rows_failed: 0, rows_created: 0, rows_updated: 0, rows_unchanged: 0 },
  options: {},
  created_at: '2026-05-14T10:30:00.000Z',
  started_at: '2026-05-14T10:30:00.000Z',
  finished_at: '2026-05-14T10:30:01.000Z',
  links: { self: `/v1/jobs/${JOB_ID}`, errors: '', errors_csv: '', result: `/v1/jobs/${JOB_ID}/result` },
};

/** Answers 2xx with a Content-Length of 100, sends 7 bytes of it, then drops the connection. */
function cutOff(response: ServerResponse, status: number): void {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': '100' });
  response.write('{"id":"');
  setTimeout(() => response.socket?.destroy(), 20);
}

describe('catalog behind a redirect', { timeout: 60_000 }, () => {
  it('uploads once on a 307 and says which address to use, with exit 2', async () => {
    const stand = await standIn((_request, response) => response.writeHead(307, { location: 'https://catalog.example/v1/imports' }).end());
    const run = await runProcess(compiled.command, ['import', products], env(stand.url));

    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('catalog: The service answered 307 redirecting to https://catalog.example/v1/imports; set CATALOG_URL or --url to https://catalog.example.');
    expect(run.stderr).not.toMatch(/network error|retrying/);
    // The upload once; where the redirect points is asked with a HEAD, without the key.
    expect(stand.requests.map((request) => request.method)).toEqual(['POST', 'HEAD']);
  });
});

describe('catalog on an answer cut off mid-body', { timeout: 60_000 }, () => {
  it('reads `usage` again instead of failing with an unexpected error', async () => {
    const usage = { tier: 'FREE', requests_this_month: 3, monthly_quota: 1000, per_minute_limit: 60, period_start: '2026-05-01', period_end: '2026-06-01' };
    const stand = await standIn((_request, response, index) => (index === 0 ? cutOff(response, 200) : response.writeHead(200).end(JSON.stringify(usage))));
    const run = await runProcess(compiled.command, ['--json', 'usage'], env(stand.url));

    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/network error \(the answer was cut off: \S+\); retrying/);
    expect(JSON.parse(run.stdout)).toMatchObject({ tier: 'FREE' });
    expect(stand.requests).toHaveLength(2);
  });

  it('sends the upload again with the same Idempotency-Key when its 202 is cut off, and prints the job', async () => {
    const accepted = { id: JOB_ID, status: 'processing' };
    const stand = await standIn((_request, response, index) => (index === 0 ? cutOff(response, 202) : response.writeHead(202).end(JSON.stringify(accepted))));
    const run = await runProcess(compiled.command, ['--json', 'import', products, '--no-wait'], env(stand.url));

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ job_id: JOB_ID, id: JOB_ID, status: 'processing' });
    expect(stand.requests).toHaveLength(2);
    expect(stand.requests[1]!.key).toBe(stand.requests[0]!.key);
  });
});

describe('catalog export on a download cut off mid-body', { timeout: 60_000 }, () => {
  it('downloads the file again and writes it whole, instead of failing after one GET', async () => {
    const file = `ean,name\n${'4006381333931,Pen\n'.repeat(100)}`;
    let downloads = 0;
    const stand = await standIn((request, response) => {
      if (request.method === 'POST') return response.writeHead(202).end(JSON.stringify({ id: JOB_ID, status: 'processing' }));
      if (request.url!.endsWith('/events')) return response.writeHead(200, { 'content-type': 'text/event-stream' }).end(`id: 2\nevent: end\ndata: ${JSON.stringify(exportJob)}\n\n`);
      downloads += 1;
      response.writeHead(200, { 'content-type': 'text/csv', 'content-length': String(file.length) });
      if (downloads > 1) return response.end(file);
      // The first download: a part of the file, then the connection drops.
      response.write(file.slice(0, 500));
      setTimeout(() => response.socket?.destroy(), 20);
    });
    const output = join(folder, 'cut-off.csv');
    const run = await runProcess(compiled.command, ['export', '-o', output], env(stand.url));

    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/network error \(the answer was cut off: \S+\); retrying/);
    expect(downloads).toBe(2);
    expect(await readFile(output, 'utf8')).toBe(file);
    expect(await partFiles()).toEqual([]);
  });
});

describe('catalog import on an event stream that sends what is not a job', { timeout: 60_000 }, () => {
  it('stops with exit 5 and says so, naming the job that goes on', async () => {
    const stand = await standIn((request, response) => {
      if (request.method === 'POST') return response.writeHead(202).end(JSON.stringify({ id: JOB_ID, status: 'processing' }));
      response.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: 1\nevent: job\ndata: {}\n\n');
    });
    const run = await runProcess(compiled.command, ['import', products], env(stand.url));

    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toContain(`catalog: The event stream of job ${JOB_ID} sent 3 events that are not a job (the last: "{}")`);
    expect(run.stderr).toContain(`Job ${JOB_ID} was accepted and goes on on the service`);
    expect(stand.requests.filter((request) => request.url.endsWith('/events'))).toHaveLength(3);
  });
});

/** A download that starts and then stalls (as a slow storage would), answered to every GET but the job's events. */
function stallingExport(request: IncomingMessage, response: ServerResponse): void {
  if (request.method === 'POST') return void response.writeHead(202).end(JSON.stringify({ id: JOB_ID, status: 'processing' }));
  if (request.url!.endsWith('/events')) return void response.writeHead(200, { 'content-type': 'text/event-stream' }).end(`id: 2\nevent: end\ndata: ${JSON.stringify(exportJob)}\n\n`);
  response.writeHead(200, { 'content-type': 'text/csv', 'content-length': '1000000' });
  response.write('ean,name\n4006381333931,Pen\n');
}

/** The `.part` files in the test folder. */
async function partFiles(): Promise<string[]> {
  return (await readdir(folder)).filter((name) => name.endsWith('.part'));
}

describe('catalog export, stopped by a signal while it downloads', { timeout: 60_000 }, () => {
  it('leaves no .part file behind on Ctrl+C', async () => {
    const stand = await standIn(stallingExport);
    const output = join(folder, 'out.csv');
    const cli = startProcess(compiled.command, ['export', '-o', output], env(stand.url));
    await cli.stderrMatch(/^download: /m);
    expect(await partFiles()).toEqual([expect.stringMatching(/^out\.csv\.[0-9a-f]+\.part$/)]);
    cli.child.kill('SIGINT');
    const run = await cli.done;

    expect(run.code, run.stderr).toBe(130);
    expect(await partFiles()).toEqual([]);
    expect(await readdir(folder)).not.toContain('out.csv');
  });

  it.each([
    { signal: 'SIGTERM', code: 143, message: 'Interrupted by SIGTERM.' },
    { signal: 'SIGHUP', code: 129, message: 'Interrupted by SIGHUP (its terminal closed).' },
  ] as const)('stops on $signal as on Ctrl+C, with exit $code, no .part file and the failure as JSON with --json', async ({ signal, code, message }) => {
    const stand = await standIn(stallingExport);
    const output = join(folder, `stopped-${code}.csv`);
    const cli = startProcess(compiled.command, ['--json', 'export', '-o', output], env(stand.url));
    await cli.stderrMatch(/^download: /m);
    expect(await partFiles()).toHaveLength(1);
    cli.child.kill(signal);
    const run = await cli.done;

    expect(run.code, run.stderr).toBe(code);
    expect(run.stderr).toContain(`catalog: ${message}`);
    expect(run.stderr).toContain(`catalog: Job ${JOB_ID} has ended on the service; check it with: catalog jobs show ${JOB_ID}`);
    expect(JSON.parse(run.stdout)).toEqual({ error: message, error_code: null, request_id: null, job_id: JOB_ID, exit_code: code });
    expect(await partFiles()).toEqual([]);
    expect(await readdir(folder)).not.toContain(`stopped-${code}.csv`);
  });
});

/** Job `id` as it ended: an export with its file, or an import whose row failed (IMPORT_FAILED). */
function endedJob(id: string, type: 'export' | 'import'): object {
  const links = { self: `/v1/jobs/${id}`, errors: `/v1/jobs/${id}/errors`, errors_csv: `/v1/jobs/${id}/errors.csv`, result: `/v1/jobs/${id}/result` };
  if (type === 'export') return { ...exportJob, id, links };
  const progress = { ...exportJob.progress, rows_succeeded: 0, rows_failed: 1 };
  return { ...exportJob, id, type, status: 'failed', error_code: 'IMPORT_FAILED', progress, links: { ...links, result: '', rows_csv: `/v1/jobs/${id}/rows.csv` } };
}

/**
 * A stand-in for runs at once: the n-th POST starts job `n`, whose events end it at once (see
 * `endedJob`); a download (a GET of `result` or `rows.csv`) sends its first line and waits in
 * `downloads` under its job's id for the test to finish it with that job's file.
 */
async function concurrentStandIn(type: 'export' | 'import') {
  const downloads = new Map<string, ServerResponse>();
  const jobId = (index: number) => `${JOB_ID.slice(0, -1)}${index}`;
  let posts = 0;
  const stand = await standIn((request, response) => {
    if (request.method === 'POST') return void response.writeHead(202).end(JSON.stringify({ id: jobId(posts++), status: 'processing' }));
    const id = /\/v1\/jobs\/([\w-]+)/.exec(request.url!)![1]!;
    if (request.url!.endsWith('/events')) {
      return void response.writeHead(200, { 'content-type': 'text/event-stream' }).end(`id: 2\nevent: end\ndata: ${JSON.stringify(endedJob(id, type))}\n\n`);
    }
    if (request.url!.includes('/errors?')) return void response.writeHead(200).end(JSON.stringify({ data: [] }));
    response.writeHead(200, { 'content-type': 'text/csv', 'content-length': String(fileOf(id).length) });
    response.write(fileOf(id).slice(0, 9));
    downloads.set(id, response);
  });
  /** Resolves once `count` downloads wait. */
  const waiting = async (count: number) => {
    while (downloads.size < count) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const finish = (id: string) => downloads.get(id)!.end(fileOf(id).slice(9));
  return { url: stand.url, jobId, waiting, finish };
}

/** The file of job `id`: a header, then lines that name the job, as many as its last digit plus 100. */
function fileOf(id: string): string {
  return `ean,name\n${`4006381333931,${id}\n`.repeat(100 + Number(id.at(-1)))}`;
}

describe('catalog, two runs at once writing to the same place', { timeout: 60_000 }, () => {
  it('export -o: each run writes and reports its own file, the one finishing last replacing the other', async () => {
    const stand = await concurrentStandIn('export');
    const output = join(folder, 'nightly.csv');
    const first = startProcess(compiled.command, ['export', '-o', output], env(stand.url));
    await first.stderrMatch(/^download: /m);
    const second = startProcess(compiled.command, ['export', '-o', output], env(stand.url));
    await second.stderrMatch(/^download: /m);
    expect(await partFiles()).toHaveLength(2);

    stand.finish(stand.jobId(0));
    const firstRun = await first.done;
    expect(firstRun.code, firstRun.stderr).toBe(0);
    expect(firstRun.stdout).toContain(`Wrote ${fileOf(stand.jobId(0)).length} bytes to ${output}`);
    expect(await readFile(output, 'utf8')).toBe(fileOf(stand.jobId(0)));

    stand.finish(stand.jobId(1));
    const secondRun = await second.done;
    expect(secondRun.code, secondRun.stderr).toBe(0);
    expect(secondRun.stdout).toContain(`Wrote ${fileOf(stand.jobId(1)).length} bytes to ${output}`);
    expect(await readFile(output, 'utf8')).toBe(fileOf(stand.jobId(1)));
    expect(await partFiles()).toEqual([]);
  });

  it("import: the failed rows of each run go to a file of their own, FILE.errors.csv and FILE.errors-2.csv", async () => {
    const stand = await concurrentStandIn('import');
    const file = join(folder, 'nightly feed ü.csv');
    await writeFile(file, 'ean,name,price,currency\n4006381333932,Pen,1.50,EUR\n');
    const runs = [startProcess(compiled.command, ['import', file], env(stand.url)), startProcess(compiled.command, ['import', file], env(stand.url))];
    await stand.waiting(2);
    stand.finish(stand.jobId(0));
    stand.finish(stand.jobId(1));

    const written = new Set<string>();
    for (const run of await Promise.all(runs.map((cli) => cli.done))) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).not.toContain('warning');
      const id = /Import accepted: job ([\w-]+)/.exec(run.stderr)![1]!;
      const errorsFile = /^Failed rows written to (.+?\.csv)[ :]/m.exec(run.stdout)![1]!;
      expect(await readFile(errorsFile, 'utf8')).toBe(fileOf(id));
      written.add(errorsFile);
    }
    expect([...written].sort()).toEqual([`${file}.errors-2.csv`, `${file}.errors.csv`]);
    expect(await partFiles()).toEqual([]);
  });
});
