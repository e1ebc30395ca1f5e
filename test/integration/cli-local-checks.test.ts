import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCli, runProcess, type CompiledCli } from '../support/cli-runner.js';
import { baseUrlOf } from '../support/event-stream.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * What the CLI checks on its own side before it sends anything: the key it was given and its
 * arguments (also with --json).
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

const cli = (key: string, ...args: string[]) => runProcess(compiled.command, args, { CATALOG_URL: url, CATALOG_API_KEY: key });

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
