import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { compileCli, runProcess, type CompiledCli } from '../support/cli-runner.js';
import { ean13, toCsv, withBadCheckDigit } from '../support/csv.js';
import { baseUrlOf } from '../support/event-stream.js';
import { keyWithScopes } from '../support/operator-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let url: string;
let folder: string;
let compiled: CompiledCli;
/** A service whose FREE tier allows one request a month. */
let limited: TestContext;
let limitedUrl: string;

beforeAll(async () => {
  const quota = { TIER_LIMITS: JSON.stringify({ FREE: { monthly: 1, per_minute: 100 } }) };
  [ctx, limited, compiled] = await Promise.all([
    createTestContext(),
    createTestContext({ workers: false, env: quota }),
    compileCli(),
  ]);
  await Promise.all([ctx.app.listen({ port: 0, host: '127.0.0.1' }), limited.app.listen({ port: 0, host: '127.0.0.1' })]);
  url = baseUrlOf(ctx.app.server.address());
  limitedUrl = baseUrlOf(limited.app.server.address());
  folder = await mkdtemp(join(tmpdir(), 'catalog-cli-'));
});
afterAll(async () => {
  await Promise.all([ctx?.close(), limited?.close(), compiled?.remove()]);
  if (folder) await rm(folder, { recursive: true, force: true });
});

const HEADER = ['ean', 'name', 'brand', 'price', 'currency'];

/** Writes a CSV file of products `first`..`first+count-1` (brand Acme) into the test folder. */
async function productsFile(name: string, first: number, count: number, extra: string[][] = []): Promise<string> {
  const rows = Array.from({ length: count }, (_, index) => [ean13(first + index), `Product ${first + index}`, 'Acme', '1.50', 'EUR']);
  const path = join(folder, name);
  await writeFile(path, toCsv([HEADER, ...rows, ...extra]));
  return path;
}

const cli = (key: string, ...args: string[]) => runProcess(compiled.command, args, { CATALOG_URL: url, CATALOG_API_KEY: key });

describe('catalog import', { timeout: 60_000 }, () => {
  it('uploads, follows the job and prints the summary, with plain progress lines without a TTY', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('three.csv', 1, 3);
    const run = await cli(account.key, 'import', file);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Import completed in [\d.]+ s: 3 created, 0 updated, 0 unchanged, 0 failed \(job [0-9a-f-]{36}\)$/m);
    expect(run.stderr).toMatch(/^upload: [\d.]+\/[\d.]+ MB 100%/m);
    expect(run.stderr).toMatch(/^import: done 3\/3 rows 100%/m);
    expect(run.stderr).not.toContain('\u001b[');
    expect(run.stderr + run.stdout).not.toContain(account.key);
    const products = await ctx.get(account.key, '/v1/products?brand=Acme');
    expect(products.json<{ data: unknown[] }>().data).toHaveLength(3);
  });

  it('writes the failed rows to FILE.errors.csv, shows the first problems and exits 1 on IMPORT_FAILED', async () => {
    const account = await ctx.createAccount();
    const bad = withBadCheckDigit(ean13(99));
    const file = await productsFile('bad.csv', 10, 2, [[bad, 'Broken', 'Acme', '1.00', 'EUR']]);
    const run = await cli(account.key, 'import', file);

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^Import failed \(IMPORT_FAILED\)/m);
    expect(run.stdout).toMatch(/^ {2}row 3, ean: .+\(\w+\)$/m);
    expect(run.stdout).toContain(
      `Failed rows written to ${file}.errors.csv: every row of the file, the failed ones with their problems (no row was imported)`,
    );
    const errors = await readFile(`${file}.errors.csv`, 'utf8');
    expect(errors.trim().split('\n')).toHaveLength(4);
    expect(errors.split('\n')[0]).toMatch(/^ean,name,brand,price,currency(,error_\w+)+/);
    expect(errors).toContain(bad);
    const products = await ctx.get(account.key, '/v1/products');
    expect(products.json<{ data: unknown[] }>().data).toHaveLength(0);
  });

  it('on MISSING_COLUMN writes every row with the header problem, and that file with its header fixed imports', async () => {
    const account = await ctx.createAccount();
    const file = join(folder, 'title.csv');
    await writeFile(file, toCsv([['ean', 'title'], [ean13(201), 'Product 201'], [ean13(202), 'Product 202']]));
    const run = await cli(account.key, 'import', file);

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain("  row 0: The header is missing the required column 'name'. (MISSING_COLUMN)");
    const errors = await readFile(`${file}.errors.csv`, 'utf8');
    expect(errors.split('\n').slice(0, 2)).toEqual([
      'ean,title,error_row,error_field,error_code,error_message',
      ",,0,,MISSING_COLUMN,The header is missing the required column 'name'.",
    ]);
    await writeFile(`${file}.errors.csv`, errors.replace('ean,title,', 'ean,name,'));
    const again = await cli(account.key, 'import', `${file}.errors.csv`);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Import completed in [\d.]+ s: 2 created, 0 updated, 0 unchanged, 0 failed/m);
  });

  it('writes the failed rows to --errors-out and prints JSON with --json', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('skip.csv', 20, 1, [['12345', 'Broken', 'Acme', '1.00', 'EUR']]);
    const errorsOut = join(folder, 'custom-errors.csv');
    const run = await cli(account.key, '--json', 'import', file, '--on-error', 'skip', '--errors-out', errorsOut);

    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { job: JobResource; errors_file: string };
    expect(result.job).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 1 } });
    expect(result.errors_file).toBe(errorsOut);
    expect(await readFile(errorsOut, 'utf8')).toContain('12345');
  });

  it('with --on-error skip writes only the failed rows, as the good ones were imported', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('skip-only-failed.csv', 25, 2, [['12345', 'Broken', 'Acme', '1.00', 'EUR']]);
    const run = await cli(account.key, 'import', file, '--on-error', 'skip');

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Import completed in [\d.]+ s: 2 created, 0 updated, 0 unchanged, 1 failed/m);
    expect(run.stdout).toContain(
      `Failed rows written to ${file}.errors.csv: only the 1 failed row, with their problems (the other rows were imported); fix them and import that file again.`,
    );
    const lines = (await readFile(`${file}.errors.csv`, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^12345,Broken,Acme,1\.00,EUR,3,ean,/);
  });

  it('prints the summary and exits 1 on IMPORT_FAILED when the failed rows cannot be written, warning where they are', async () => {
    const account = await ctx.createAccount();
    // A name that leaves no room for `.errors.csv` (names are at most 255 bytes): that file cannot be written.
    const name = `${'u'.repeat(236)}-unwritable.csv`;
    const file = await productsFile(name, 70, 1, [[withBadCheckDigit(ean13(79)), 'Broken', 'Acme', '1.00', 'EUR']]);
    const run = await cli(account.key, 'import', file);

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^Import failed \(IMPORT_FAILED\)/m);
    expect(run.stdout).toMatch(/^ {2}row 2, ean: .+\(\w+\)$/m);
    expect(run.stdout).not.toContain('Failed rows written');
    const id = /\(job ([0-9a-f-]{36})\)/.exec(run.stdout)?.[1];
    expect(run.stderr).toMatch(/^catalog: warning: Could not create \S+unwritable\.csv\.errors\.csv: ENAMETOOLONG\. The failed rows/m);
    expect(run.stderr).toContain(`The failed rows can be downloaded from ${url}/v1/jobs/${id}/rows.csv`);
  });

  it('refuses an --errors-out in a folder that does not exist before it uploads anything', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('errors-out-missing.csv', 80, 1);
    const run = await cli(account.key, 'import', file, '--errors-out', join(folder, 'no-such-folder', 'errors.csv'));

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cannot write into its folder (ENOENT)');
    expect((await ctx.get(account.key, '/v1/jobs')).json<{ data: unknown[] }>().data).toHaveLength(0);
  });

  it('retries an upload whose answer was lost with the same Idempotency-Key, so only one job starts', async () => {
    const account = await ctx.createAccount();
    const proxy = await answerDroppingProxy(new URL(url).port, 'POST /v1/imports');
    try {
      const file = await productsFile('lost-answer.csv', 30, 2);
      const run = await runProcess(compiled.command, ['import', file], { CATALOG_URL: proxy.url, CATALOG_API_KEY: account.key });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/network error .*retrying/);
      expect(proxy.dropped()).toBe(1);
      const jobs = (await ctx.get(account.key, '/v1/jobs')).json<{ data: JobResource[] }>().data;
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    } finally {
      proxy.server.close();
    }
  });

  it('returns at once with --no-wait; jobs show and jobs errors read the job', async () => {
    const account = await ctx.createAccount();
    const id = await failedImportId(account.key, 'nowait.csv');

    const shown = await cli(account.key, 'jobs', 'show', id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`Import failed (IMPORT_FAILED): 0 created`);
    const errors = await cli(account.key, 'jobs', 'errors', id);
    expect(errors.stdout).toMatch(/^row 2 {2}1 {2}ean {2}\w+ {2}/m);
  });

  it('ends quietly with exit 0 when the reader of its output stops early (| head)', async () => {
    const account = await ctx.createAccount();
    const rows = Array.from({ length: 3000 }, (_, index) => [String(index), 'Broken', 'Acme', '1.00', 'EUR']);
    const job = await ctx.importCsv(account.key, toCsv([HEADER, ...rows]), { on_error: 'skip' });
    // Far more lines than a pipe buffers, so that the CLI still writes when head has gone.
    const script = '"$@" | head -3; exit "${PIPESTATUS[0]}"';
    const args = [...compiled.command, 'jobs', 'errors', job.id, '--limit', '3000'];
    const run = await runProcess(['bash', '-c', script, 'bash'], args, { CATALOG_URL: url, CATALOG_API_KEY: account.key });

    expect(run.stdout.trim().split('\n')).toHaveLength(3);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it('lists jobs, retries one and follows it, and shows the usage', async () => {
    const account = await ctx.createAccount();
    const id = await failedImportId(account.key, 'retry.csv');

    const listed = await cli(account.key, '--json', 'jobs', 'list', '--type', 'import');
    expect((JSON.parse(listed.stdout) as { data: JobResource[] }).data.map((job) => job.id)).toEqual([id]);
    const retried = await cli(account.key, 'jobs', 'retry', id);
    expect(retried.code).toBe(1);
    expect(retried.stdout).toContain('Import failed (IMPORT_FAILED)');
    const usage = await cli(account.key, 'usage');
    expect(usage.stdout).toMatch(/^FREE tier, \d{4}-\d{2}: \d+ of \d+ requests used$/m);
  });

  it('takes a retry whose answer was lost as accepted when the job reads as running again', async () => {
    const account = await ctx.createAccount();
    const id = await failedImportId(account.key, 'retry-lost.csv');
    const proxy = await answerDroppingProxy(new URL(url).port, `POST /v1/jobs/${id}/retry`);
    // The retried job waits in the paused queue, so it still runs when the CLI reads it.
    const imports = ctx.queues.queue('import');
    await imports.pause();
    try {
      const args = ['--json', 'jobs', 'retry', id, '--no-wait'];
      const run = await runProcess(compiled.command, args, { CATALOG_URL: proxy.url, CATALOG_API_KEY: account.key });
      expect(proxy.dropped()).toBe(1);
      expect(run.stderr).toMatch(/Could not reach .*; reading the job to see whether the retry reached the service/);
      expect(run.stderr).toContain('the retry sent before the network error was accepted: the job runs again');
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ job_id: id, id, status: 'processing' });
      expect(proxy.requests().filter((line) => line.startsWith(`POST /v1/jobs/${id}/retry`))).toHaveLength(1);
    } finally {
      await imports.resume();
      proxy.server.close();
    }
    expect(await ctx.waitForJob(account.key, id)).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
  });

  it('sends the retry of a key that may not read jobs again with its Idempotency-Key when its answer is lost, and the job runs once', async () => {
    const account = await ctx.createAccount();
    const id = await failedImportId(account.key, 'retry-write-only.csv');
    const writeOnly = await keyWithScopes(ctx, account.id, ['imports:write']);
    const proxy = await answerDroppingProxy(new URL(url).port, `POST /v1/jobs/${id}/retry`);
    // The retried job waits in the paused queue: a second run would need a second retry accepted.
    const imports = ctx.queues.queue('import');
    await imports.pause();
    try {
      const run = await runProcess(compiled.command, ['--json', 'jobs', 'retry', id, '--no-wait'], { CATALOG_URL: proxy.url, CATALOG_API_KEY: writeOnly });
      expect(proxy.dropped()).toBe(1);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ job_id: id, id, status: 'processing' });
      expect(proxy.requests().filter((line) => line.startsWith(`POST /v1/jobs/${id}/retry`))).toHaveLength(2);
      const { rows } = await ctx.db.query<{ run_number: number }>('SELECT run_number FROM jobs WHERE id = $1', [id]);
      expect(rows[0]!.run_number).toBe(2);
    } finally {
      await imports.resume();
      proxy.server.close();
    }
  });

  it('takes a retry whose answer was lost as accepted when the job ran again and completed meanwhile, without sending it twice', async () => {
    const account = await ctx.createAccount();
    // A cancelled import: its retry completes, and fast.
    const imports = ctx.queues.queue('import');
    await imports.pause();
    const upload = await ctx.upload(account.key, toCsv([HEADER, [ean13(90), 'Product 90', 'Acme', '1.50', 'EUR']]));
    const id = upload.json<{ id: string }>().id;
    const cancel = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
    await imports.resume();
    expect(cancel.json()).toMatchObject({ status: 'cancelled' });
    const proxy = await answerDroppingProxy(new URL(url).port, `POST /v1/jobs/${id}/retry`);
    try {
      // A back-off long enough for the retried job to complete before the CLI would send again.
      const env = { CATALOG_URL: proxy.url, CATALOG_API_KEY: account.key, CATALOG_RETRY_BASE_MS: '1500' };
      const run = await runProcess(compiled.command, ['jobs', 'retry', id], env);
      expect(proxy.dropped()).toBe(1);
      expect(run.stderr).toContain('the retry sent before the network error was accepted: the job runs again');
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^Import completed: 1 created/m);
    } finally {
      proxy.server.close();
    }
    expect(proxy.requests().filter((line) => line.startsWith(`POST /v1/jobs/${id}/retry`))).toHaveLength(1);
  });
});

/** Starts an import of one valid and one invalid row with --no-wait; returns its id once it failed. */
async function failedImportId(key: string, name: string): Promise<string> {
  const file = await productsFile(name, 40, 1, [['1', 'Broken', 'Acme', '1.00', 'EUR']]);
  const started = await cli(key, '--json', 'import', file, '--no-wait');
  expect(started.code, started.stderr).toBe(0);
  const { id } = JSON.parse(started.stdout) as { id: string };
  await ctx.waitForJob(key, id);
  return id;
}

describe('catalog export', { timeout: 60_000 }, () => {
  it('starts an export, follows it and downloads the file', async () => {
    const account = await ctx.createAccount();
    expect((await cli(account.key, 'import', await productsFile('for-export.csv', 50, 2))).code).toBe(0);
    const output = join(folder, 'export.ndjson');
    const run = await cli(account.key, 'export', '--format', 'ndjson', '--filter', 'brand=Acme', '-o', output);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Export completed in [\d.]+ s: 2 rows processed/m);
    expect(run.stderr).toMatch(/^download: /m);
    const lines = (await readFile(output, 'utf8')).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { ean: string }).ean).sort()).toEqual([ean13(50), ean13(51)]);
  });
});

describe('exit codes', { timeout: 60_000 }, () => {
  it('exits 2 on a usage error and for an unknown job', async () => {
    const account = await ctx.createAccount();
    expect((await cli(account.key, 'import')).code).toBe(2);
    expect((await cli(account.key, 'import', 'x.csv', '--mode', 'merge')).code).toBe(2);
    expect((await cli(account.key, 'import', join(folder, 'missing.csv'))).code).toBe(2);
    const unknown = await cli(account.key, 'jobs', 'show', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('NOT_FOUND');
  });

  it('says a folder or stdin cannot be imported, rather than that it does not exist', async () => {
    const account = await ctx.createAccount();
    const ofFolder = await cli(account.key, 'import', folder);
    expect(ofFolder.code).toBe(2);
    expect(ofFolder.stderr).toContain(`catalog: ${folder}: is a folder; name a file.`);
    // stdin of the child is a pipe.
    const ofStdin = await cli(account.key, 'import', '/dev/stdin');
    expect(ofStdin.code).toBe(2);
    expect(ofStdin.stderr).toContain('catalog: /dev/stdin: not a regular file; stdin and pipes cannot be uploaded');
    // `-` is stdin, as for other tools, and a file of that name is ./-.
    const ofDash = await cli(account.key, 'import', '-');
    expect(ofDash.code).toBe(2);
    expect(ofDash.stderr).toContain('catalog: -: not a regular file; stdin and pipes cannot be uploaded, save the data to a file first (a file named "-" is ./-).');
  });

  it('exits 2 with the reason when the file cannot be read after its check, without retrying it', async () => {
    const account = await ctx.createAccount();
    // A regular file to stat() whose read fails (EIO): as a file removed between two attempts.
    const run = await cli(account.key, 'import', '--no-wait', '/proc/self/mem');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Could not read /proc/self/mem: EIO');
    expect(run.stderr).not.toMatch(/retrying|Unhandled 'error' event/);
  });

  it('exits 3 without a key and with a wrong one, and never prints the key', async () => {
    expect((await runProcess(compiled.command, ['usage'], { CATALOG_URL: url })).code).toBe(3);
    const wrongKey = await cli('ck_wrong-key-0000000000000000', 'usage');
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toMatch(/\(INVALID_API_KEY, request [\w-]+\)/);
    expect(wrongKey.stderr + wrongKey.stdout).not.toContain('ck_wrong-key');
  });

  it('exits 4 when the monthly quota is used up, with the reason in --json', async () => {
    const account = await limited.createAccount();
    await limited.get(account.key, '/v1/usage');
    const run = await runProcess(compiled.command, ['--json', 'usage'], { CATALOG_URL: limitedUrl, CATALOG_API_KEY: account.key });
    expect(run.code).toBe(4);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: 'Monthly quota exceeded.', error_code: 'QUOTA_EXCEEDED', exit_code: 4 });
  });

  it('exits 5 when the service cannot be reached after the retries', async () => {
    const closed = await closedPort();
    const run = await runProcess(compiled.command, ['usage'], { CATALOG_URL: `http://127.0.0.1:${closed}`, CATALOG_API_KEY: 'k', CATALOG_RETRIES: '2' });
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/Could not reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('lists the exit codes of the README in --help, those of signals included', async () => {
    const run = await runProcess(compiled.command, ['--help'], {});
    expect(run.code).toBe(0);
    for (const code of [0, 1, 2, 3, 4, 5]) expect(run.stdout).toMatch(new RegExp(`^ {2}${code} {2}\\S`, 'm'));
    expect(run.stdout).toMatch(/^ {2}130 {2}interrupted \(Ctrl\+C\)/m);
    expect(run.stdout).toMatch(/^ {2}143 {2}stopped by SIGTERM/m);
    expect(run.stdout).toMatch(/^ {2}129 {2}stopped by SIGHUP/m);
  });

  it('runs through bin/catalog.js, the package.json bin', async () => {
    const run = await runProcess([process.execPath, 'bin/catalog.js'], ['--version'], {});
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('on a terminal', { timeout: 60_000 }, () => {
  it('draws progress bars', async () => {
    const account = await ctx.createAccount();
    const file = await productsFile('tty.csv', 60, 2);
    const command = [...compiled.command, 'import', file].map((part) => `'${part}'`).join(' ');
    const env = { CATALOG_URL: url, CATALOG_API_KEY: account.key, TERM: 'xterm' };
    const run = await runProcess(['script'], ['-qfec', command, '/dev/null'], env);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain('\u001b[?25l');
    expect(run.stdout).toMatch(/upload {2}[█░]{10,} 100%/);
    expect(run.stdout).toMatch(/import {2}[█░]{10,} 100% \| 2\/2 rows/);
    expect(run.stdout).toContain('Import completed');
  });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A TCP proxy to the service that lets the first request starting with `requestLine` (method and
 * path) reach it and then cuts the connection as the answer starts: the request did its work but
 * the client never hears of it.
 */
async function answerDroppingProxy(
  upstreamPort: string,
  requestLine: string,
): Promise<{ server: Server; url: string; dropped(): number; requests(): string[] }> {
  const { connect } = await import('node:net');
  let dropped = 0;
  const requests: string[] = [];
  const server = createServer((client) => {
    const upstream = connect(Number(upstreamPort), '127.0.0.1');
    let isDropped = false;
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (/^[A-Z]+ \//.test(text)) requests.push(text.slice(0, text.indexOf('\r\n')));
      if (text.startsWith(requestLine)) isDropped = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (isDropped && dropped === 0) {
        dropped += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: baseUrlOf(server.address()), dropped: () => dropped, requests: () => requests };
}
