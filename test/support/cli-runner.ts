import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root, where the CLI runs from. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How a run of a child process ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A compiled copy of the CLI: `command` runs it; `remove()` deletes it. */
export interface CompiledCli {
  command: string[];
  remove(): Promise<void>;
}

/** Every .ts file under `folder`. */
async function sourcesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Compiles src/cli into a temporary package laid out like the built one (dist/cli beside a
 * package.json, node_modules linked), file by file without type checking (`tsc` checks types).
 * Each child then starts as plain Node: far less CPU than a TypeScript loader per run.
 */
export async function compileCli(): Promise<CompiledCli> {
  const root = await mkdtemp(join(tmpdir(), 'catalog-cli-build-'));
  const source = join(REPO_ROOT, 'src', 'cli');
  for (const file of await sourcesUnder(source)) {
    const output = ts.transpileModule(await readFile(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: file,
    });
    const target = join(root, 'dist', 'cli', relative(source, file).replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, output.outputText);
  }
  await copyFile(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  return {
    command: [process.execPath, join(root, 'dist', 'cli', 'main.js')],
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** The environment of a child: nothing of the test process's but PATH and HOME, plus `env`. */
export function cliEnvironment(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CATALOG_RETRY_BASE_MS: '20', ...env };
}

/** A child process of the test that is still running: watch its stderr, signal it, wait for its end. */
export interface RunningProcess {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the first match of `pattern` in stderr; rejects after `timeoutMs` or when the child ends first. */
  stderrMatch(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the child has ended and its pipes are closed. */
  done: Promise<CliRun>;
}

/** Starts `command` with `args` as a child process with pipes (no TTY). */
export function startProcess(command: string[], args: string[], env: Record<string, string>): RunningProcess {
  const child = spawn(command[0]!, [...command.slice(1), ...args], { cwd: REPO_ROOT, env: cliEnvironment(env) });
  let stdout = '';
  let stderr = '';
  let ended = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      ended = true;
      resolve({ code, stdout, stderr });
    });
  });
  const stderrMatch = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(stderr);
      if (match) return match;
      if (ended || Date.now() > deadline) throw new Error(`stderr never matched ${pattern}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { child, stderrMatch, done };
}

/** Runs `command` with `args` as a child process with pipes (no TTY) and waits for it. */
export function runProcess(command: string[], args: string[], env: Record<string, string>): Promise<CliRun> {
  return startProcess(command, args, env).done;
}
