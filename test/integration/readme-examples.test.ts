import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemResolver } from '../../src/shared/callbacks/host-resolver.js';
import { compileCli, type CompiledCli } from '../support/cli-runner.js';
import { expectationProblems } from '../support/readme-expectations.js';
import { readmeCommands, readmeSection, readmeSteps, runReadmeCommands, type ReadmeCommand } from '../support/readme-steps.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { excelWorkbook } from '../support/xlsx.js';

/*
 * The README's examples, run as printed: the commands of a section in order, in one shell, against
 * this file's service; each answer the README shows (`# → …`, or a text block under a shell block)
 * must be what the service printed. The README says the service is at localhost:3000 and started
 * with `npm start`: here it listens on a free port, which replaces localhost:3000 in the commands.
 */

let ctx: TestContext;
let readme: string;
let host: string;
let adminKey: string;
let cli: CompiledCli;

beforeAll(async () => {
  readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  // The operator key the walk-through exports before it starts the service.
  adminKey = /^export ADMIN_API_KEY=(\S+)/m.exec(readmeSection(readme, '## Walk-through: an import with a bad row'))![1]!;
  ctx = await createTestContext({
    // The tier table's own limits (not the tests' generous ones): the README shows them in answers.
    env: { ADMIN_API_KEY: adminKey, TIER_LIMITS: '', CALLBACK_ALLOW_PRIVATE: 'true' },
    // The callback example's receiver is a name of the documentation domain: here, a closed port.
    resolveHost: async (name) => (name === 'hooks.example.com' ? [{ address: '127.0.0.1', family: 4 }] : systemResolver(name)),
  });
  host = new URL(await ctx.app.listen({ port: 0, host: '127.0.0.1' })).host;
  cli = await compileCli();
}, 60_000);
afterAll(async () => {
  await cli?.remove();
  await ctx?.close();
});

const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/** A command as this test runs it: on this service's address; `npm start &` is this service. */
function asRun(command: ReadmeCommand): ReadmeCommand {
  if (/^npm start\b/.test(command.text)) return { ...command, text: ':' };
  return { ...command, text: command.text.replaceAll('localhost:3000', host) };
}

/**
 * Runs every shell block of `markdown` in order, in a fresh folder with `env`, and returns the
 * problems: a command that failed (unless the next one prints its status), an answer unlike the
 * one shown after it, a block whose output differs from the text block under it.
 */
async function runSection(markdown: string, env: Record<string, string> = {}, files: Record<string, Buffer> = {}): Promise<string[]> {
  const steps = readmeSteps(markdown).map((step) => ({ ...step, commands: readmeCommands(step.commands).map(asRun) }));
  const commands = steps.flatMap((step) => step.commands);
  expect(commands.length).toBeGreaterThan(0);
  const dir = await mkdtemp(join(tmpdir(), 'readme-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    // `npx catalog` is the command-line client of this checkout (npx would look it up online).
    const preamble = `npx() { if [ "$1" = catalog ]; then shift; ${cli.command.map(quote).join(' ')} "$@"; else return 127; fi; }`;
    const runs = await runReadmeCommands(commands, { cwd: dir, env, preamble });
    const problems: string[] = [];
    runs.forEach((run, index) => {
      const showsStatus = runs[index + 1]?.command.text.startsWith('echo $?') ?? false;
      if (run.status !== 0 && !showsStatus) problems.push(`${run.command.text}\n  exited with ${run.status}: ${run.stdout}`);
      const found = run.command.expected === null ? [] : expectationProblems(run.command.expected, run);
      problems.push(...found.map((problem) => `${run.command.text}\n  ${problem}`));
    });
    let at = 0;
    for (const step of steps) {
      const printed = runs.slice(at, (at += step.commands.length)).map((run) => run.stdout).join('');
      if (step.output !== '' && printed !== step.output) problems.push(`${step.commands.at(-1)!.text}\n  printed ${printed}\n  not ${step.output}`);
    }
    return problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new account's first key, from the operator API. */
async function newAccountKey(): Promise<string> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/v1/admin/accounts',
    headers: { authorization: `Bearer ${adminKey}` },
    payload: { email: `readme-${Date.now()}@example.com` },
  });
  return response.json<{ api_key: string }>().api_key;
}

/** The sections whose shell blocks the tests below run. */
const RUN = [
  '## Walk-through: an import with a bad row',
  '## Job callbacks',
  '## Products API',
  '## Exports',
  '## Enrichment',
  '### Column mapping and import profiles',
  '### XLSX import',
  '## Accounts, keys and limits',
];

/** The shell blocks that are not run, by their first line, and why. */
const NOT_RUN: Record<string, string> = {
  'npm ci && npm start     # API + workers in one process, on http://localhost:3000': 'installs and starts a service of its own',
  'ROLE=api    npm start': 'starts long-running processes',
};

describe('README examples', () => {
  it('runs every shell block of the README but a few, each not run for a stated reason', () => {
    const run = new Set(RUN.flatMap((heading) => readmeSteps(readmeSection(readme, heading)).map((step) => step.commands)));
    const notRun = readmeSteps(readme).filter((step) => !run.has(step.commands)).map((step) => step.commands.split('\n')[0]);
    expect(notRun).toEqual(Object.keys(NOT_RUN));
  });

  it('runs the walk-through as printed, then the callback examples with its key and file', async () => {
    const section = readmeSection(readme, '## Walk-through: an import with a bad row');
    expect(section).toContain('### Fix a failed import and upload it again (rows.csv)');
    expect(await runSection([section, readmeSection(readme, '## Job callbacks')].join('\n'))).toEqual([]);
  }, 180_000);

  it('runs the Products API, Exports and Enrichment examples as printed, in that order, with one key', async () => {
    const examples = ['## Products API', '## Exports', '## Enrichment'].map((heading) => readmeSection(readme, heading));
    expect(await runSection(examples.join('\n'), { KEY: await newAccountKey() })).toEqual([]);
  }, 180_000);

  it('runs the import profile example as printed: a partner file imported through its column mapping', async () => {
    const section = readmeSection(readme, '### Column mapping and import profiles');
    expect(await runSection(section, { KEY: await newAccountKey() })).toEqual([]);
  }, 180_000);

  it("runs the XLSX example as printed, with a workbook of the reader's: a Products sheet", async () => {
    const workbook = await excelWorkbook((book) => {
      book.addWorksheet('Notes').addRow(['Exported from the shop']);
      book.addWorksheet('Products').addRows([['ean', 'name', 'price', 'currency'], [4006381333931, 'Ballpoint pen', 1.5, 'EUR']]);
    });
    const section = readmeSection(readme, '### XLSX import');
    expect(await runSection(section, { KEY: await newAccountKey() }, { 'catalog.xlsx': workbook })).toEqual([]);
  }, 180_000);

  it('runs the accounts example as printed: signup, verification from the outbox, login, a key, usage', async () => {
    const section = readmeSection(readme, '## Accounts, keys and limits');
    expect(await runSection(section, { DATABASE_URL: ctx.env.DATABASE_URL! })).toEqual([]);
  }, 180_000);
});
