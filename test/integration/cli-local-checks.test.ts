import { createServer, type IncomingMessage } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { compileCli, runProcess, startProcess, type CompiledCli } from '../support/cli-runner.js';
import { ean13, toCsv, withBadCheckDigit } from '../support/csv.js';
import { baseUrlOf } from '../support/event-stream.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * What the CLI checks on its own side before it sends anything: the key it was given, its
 * arguments (also with --json), and the files it is to write.
 */
let ctx: TestContext;
let url: string;
let folder: string;
let compiled: CompiledCli;

beforeAll(async () => {
  [ctx, compiled] = await Promise.all([createTestContext(), compileCli()]);
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  url = baseUrlOf(ctx.app.server.address());
  folder = await mkdtemp(join(tmpdir(), 'catalog-cli-checks-'));
});
afterAll(async () => {
  await Promise.all([ctx?.close(), compiled?.remove()]);
  if (folder) await rm(folder, { recursive: true, force: true });
});

const HEADER = ['ean', 'name', 'brand', 'price', 'currency'];

const cli = (key: string, ...args: string[]) => runProcess(compiled.command, args, { CATALOG_URL: url, CATALOG_API_KEY: key });

/** Writes a CSV file of one valid product and one with a bad check digit (an import of it fails). */
async function badFile(name: string, first: number): Promise<string> {
  const path = join(folder, name);
  const rows = [[ean13(first), `Product ${first}`, 'Acme', '1.50', 'EUR'], [withBadCheckDigit(ean13(first + 1)), 'Broken', 'Acme', '1.00', 'EUR']];
  await writeFile(path, toCsv([HEADER, ...rows]));
  return path;
}

const jobsOf = async (key: string) => (await ctx.get(key, '/v1/jobs')).json<{ data: JobResource[] }>().data;

describe('catalog with a malformed API key', { timeout: 60_000 }, () => {
  it('refuses a key of two lines at once with exit 2, never printing it nor retrying it as a network error', async () => {
    const twoLines = 'ck_first_SECRETPART\nck_second_SECRET';
    const run = await runProcess(compiled.command, ['--json', 'usage'], { CATALOG_URL: url, CATALOG_API_KEY: twoLines });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('catalog: CATALOG_API_KEY: the API key holds a line break');
    expect(run.stderr).toContain('nothing was sent');
    expect(run.stderr).not.toMatch(/retrying|network error|Could not reach/);
    expect(run.stderr + run.stdout).not.toContain('SECRET');
    expect(JSON.parse(run.stdout)).toMatchObject({ error_code: null, job_id: null, exit_code: 2 });

    const flag = await runProcess(compiled.command, ['--key', 'ck_first_SECRETPART second', 'usage'], { CATALOG_URL: url });
    expect(flag.code, flag.stderr).toBe(2);
    expect(flag.stderr).toContain('catalog: --key: the API key holds a space or a tab');
    expect(flag.stderr).not.toContain('SECRET');
  });

  it('refuses a key with a character outside printable ASCII with exit 2, without retrying', async () => {
    const run = await cli('ck_€_SECRETPART', 'usage');
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('the API key holds a character that is not printable ASCII');
    expect(run.stderr).not.toMatch(/retrying|network error|SECRET/);
  });

  it("takes a key read from a file with the file's final newline", async () => {
    const account = await ctx.createAccount();
    const run = await cli(`${account.key}\n`, 'usage');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^FREE tier, /m);
  });
});

describe("catalog's flags and environment", { timeout: 60_000 }, () => {
  it('takes --url over a CATALOG_URL that is not a URL, and --key over CATALOG_API_KEY', async () => {
    const account = await ctx.createAccount();
    const env = { CATALOG_URL: 'notaurl', CATALOG_API_KEY: 'ck_not_this_key' };
    const run = await runProcess(compiled.command, ['--url', url, '--key', account.key, 'usage'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^FREE tier, /m);
  });

  it('names CATALOG_URL, not --url, when the variable is not an http(s) URL', async () => {
    const run = await runProcess(compiled.command, ['usage'], { CATALOG_URL: 'ftp://catalog.example', CATALOG_API_KEY: 'ck_unused' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('catalog: CATALOG_URL: not an http(s) URL: ftp://catalog.example');
  });

  it('lists every variable it reads in --help', async () => {
    const run = await runProcess(compiled.command, ['--help'], {});
    expect(run.code).toBe(0);
    for (const name of ['CATALOG_URL', 'CATALOG_API_KEY', 'CATALOG_RETRIES', 'CATALOG_RETRY_BASE_MS', 'CATALOG_ANSWER_TIMEOUT_MS', 'CATALOG_EVENTS_IDLE_MS']) {
      expect(run.stdout).toContain(name);
    }
  });
});

describe('catalog --json on an argument error', { timeout: 60_000 }, () => {
  it('prints the usage error as JSON on stdout with exit 2, as for any other failure', async () => {
    const unknownOption = await cli('ck_unused', '--json', 'import', 'small.csv', '--bogus');
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("error: unknown option '--bogus'");
    expect(JSON.parse(unknownOption.stdout)).toEqual({
      error: "unknown option '--bogus'",
      error_code: null,
      request_id: null,
      job_id: null,
      exit_code: 2,
    });

    const missingArgument = await cli('ck_unused', '--json', 'jobs', 'show');
    expect(missingArgument.code).toBe(2);
    expect(JSON.parse(missingArgument.stdout)).toMatchObject({ error: "missing required argument 'id'", exit_code: 2 });
  });
});

describe('catalog import, where the failed rows go', { timeout: 60_000 }, () => {
  it('leaves an existing FILE.errors.csv as it was and writes the rows to FILE.errors-2.csv, saying so', async () => {
    const account = await ctx.createAccount();
    const file = await badFile('kept.csv', 10);
    await writeFile(`${file}.errors.csv`, 'notes\n');
    const run = await cli(account.key, 'import', file);

    expect(run.code, run.stderr).toBe(1);
    expect(await readFile(`${file}.errors.csv`, 'utf8')).toBe('notes\n');
    expect(run.stdout).toContain(`Failed rows written to ${file}.errors-2.csv (${file}.errors.csv exists and was left as it was): every row`);
    expect(await readFile(`${file}.errors-2.csv`, 'utf8')).toMatch(/^ean,name,brand,price,currency,error_/);
  });

  it('refuses an --errors-out that is the file being imported before it uploads anything', async () => {
    const account = await ctx.createAccount();
    const file = await badFile('itself.csv', 20);
    const before = await readFile(file, 'utf8');
    const run = await cli(account.key, 'import', file, '--errors-out', file);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`catalog: --errors-out ${file}: is the file being imported`);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(await jobsOf(account.key)).toHaveLength(0);
  });
});

describe('catalog export -o', { timeout: 60_000 }, () => {
  it("writes into a folder under the export's file name, with no .part file beside the folder", async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, toCsv([HEADER, [ean13(30), 'Product 30', 'Acme', '1.50', 'EUR']]));
    const into = join(folder, 'exports');
    await mkdir(into);
    const run = await cli(account.key, '--json', 'export', '-o', into);

    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { job: JobResource; file: string };
    expect(result.file).toMatch(new RegExp(`^${into}/catalog-\\d{4}-\\d{2}-\\d{2}-${result.job.id}\\.csv$`));
    expect(await readdir(into)).toEqual([result.file.slice(into.length + 1)]);
    expect(await readFile(result.file, 'utf8')).toContain(ean13(30));
    expect(await readdir(folder)).not.toContain('exports.part');
  });

  it('refuses a path in a missing folder before the export starts', async () => {
    const account = await ctx.createAccount();
    const missing = await cli(account.key, 'export', '-o', join(folder, 'no-such-folder', 'out.csv'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot write into its folder (ENOENT)');
    const slash = await cli(account.key, 'export', '-o', `${join(folder, 'no-such-folder')}/`);
    expect(slash.code).toBe(2);
    expect(slash.stderr).toContain('no-such-folder/: no such folder.');
    expect(await jobsOf(account.key)).toHaveLength(0);
  });
});

/** A promise and the function that resolves it. */
function resolvable<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe('catalog import of a file that changes while it is sent', { timeout: 60_000 }, () => {
  it('cuts the upload off with exit 2 when the file shrinks, so no short file arrives whole', async () => {
    const path = join(folder, 'shrinking.csv');
    const row = `${ean13(700)},A product name long enough to fill the file,Acme,1.50,EUR\n`;
    await writeFile(path, HEADER.join(',') + '\n' + row.repeat(Math.ceil((32 << 20) / row.length)));
    // A service stand-in that holds the body back after its first bytes, until the test lets it go.
    let request: IncomingMessage | undefined;
    const started = resolvable<void>();
    const ended = resolvable<'whole' | 'cut off'>();
    const server = createServer((incoming, response) => {
      request = incoming;
      incoming.once('data', () => {
        incoming.pause();
        started.resolve();
      });
      incoming.on('end', () => {
        ended.resolve('whole');
        response.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"00000000-0000-4000-8000-000000000000","status":"queued"}');
      });
      incoming.on('aborted', () => ended.resolve('cut off'));
      incoming.on('error', () => ended.resolve('cut off'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const run = startProcess(compiled.command, ['import', path, '--no-wait'], { CATALOG_URL: baseUrlOf(server.address()), CATALOG_API_KEY: 'ck_test_key' });
      await started.promise;
      await truncate(path, 1 << 20);
      request?.resume();
      expect(await ended.promise).toBe('cut off');
      const result = await run.done;
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(`${path} changed while it was being sent`);
      expect(result.stderr).toContain('nothing was imported');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
