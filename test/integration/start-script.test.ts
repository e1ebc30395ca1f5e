import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';

/**
 * `npm start` as an operator's supervisor runs it: a SIGTERM to npm reaches the service, which
 * shuts down gracefully, instead of killing npm and its shell and leaving the service running.
 */

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/**
 * A folder laid out as a built checkout: this package.json (its start script, as written) and a
 * dist/main.js that runs the service from source, so the test needs no build of its own.
 */
async function builtCheckout(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'catalog-start-script-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await copyFile(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  await mkdir(join(root, 'dist'));
  const main = pathToFileURL(join(REPO_ROOT, 'src', 'main.ts')).href;
  await writeFile(join(root, 'dist', 'main.js'), `import { register } from 'tsx/esm/api';\nregister();\nawait import(${JSON.stringify(main)});\n`);
  return root;
}

/** Whether process `pid` still runs (a zombie has ended; only its exit status is left to collect). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** The node processes under `pid` (children, theirs…) running `script`. */
async function nodesUnder(pid: number, script: string): Promise<number[]> {
  const parents = new Map<number, number>();
  const commands = new Map<number, string[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    const command = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => null);
    if (stat === null || command === null) continue;
    parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    commands.set(Number(entry), command.split('\0'));
  }
  const under = (child: number): boolean => {
    for (let parent = parents.get(child); parent !== undefined && parent > 1; parent = parents.get(parent)) if (parent === pid) return true;
    return false;
  };
  return [...commands].filter(([child, argv]) => basename(argv[0]!) === 'node' && argv.includes(script) && under(child)).map(([child]) => child);
}

describe('npm start', () => {
  it('hands a SIGTERM sent to npm to the service, which shuts down and leaves no process behind', { timeout: 120_000 }, async () => {
    const root = await builtCheckout();
    const port = await freePort();
    const npm: ChildProcess = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: Object.assign(new URL(inject('databaseUrl')), { pathname: '/catalog_test_startup' }).toString(),
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: `start-script-${port}`,
        ROLE: 'api', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const npmExited = new Promise((resolve) => npm.once('exit', resolve));
    cleanups.push(async () => {
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
      await npmExited;
    });

    await waitFor('the service to answer', async () => {
      if (npm.exitCode !== null) throw new Error(`npm start exited: ${output}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200 ? true : undefined;
    }, 60_000, 200);
    const services = await nodesUnder(npm.pid!, 'dist/main.js');
    cleanups.push(async () => {
      for (const pid of services) if (await running(pid)) process.kill(pid, 'SIGKILL');
    });
    expect(services).toHaveLength(1);
    const service = services[0]!;

    npm.kill('SIGTERM');
    await npmExited;
    await waitFor('the service to exit', async () => ((await running(service)) ? undefined : true), 15_000, 100);
    expect(output).toContain('shutting down');
    expect(output).toContain('shutdown complete');
  });
});
