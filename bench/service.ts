import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_ENV } from '../src/shared/node-flags.js';

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (!address || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

/** How to run the service: TypeScript through tsx's loader, or JavaScript compiled by tsc into a temp dir. */
export type Runtime = { kind: 'tsx' } | { kind: 'dist'; mainJs: string };

/**
 * Compiles src/ with tsconfig.build.json into `buildDir`/dist (the repository's dist/ is left
 * alone), with node_modules and migrations/ linked beside it so that imports and the migrations
 * folder (resolved from the compiled file) work as in a normal build.
 */
export async function buildDist(repoRoot: string, buildDir: string): Promise<Runtime> {
  await mkdir(buildDir, { recursive: true });
  await symlink(join(repoRoot, 'node_modules'), join(buildDir, 'node_modules'));
  await symlink(join(repoRoot, 'migrations'), join(buildDir, 'migrations'));
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(buildDir, 'dist')], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  const mainJs = join(buildDir, 'dist', 'main.js');
  // tsc emits even with type errors (exit code 2); only a missing main.js is fatal.
  if (code !== 0 && !(await access(mainJs).then(() => true, () => false))) throw new Error(`tsc exited with ${code}`);
  return { kind: 'dist', mainJs };
}

/** The service running as a child process: `node --import tsx src/main.ts` (or `node dist/main.js`), so `pid` is main itself. */
export interface ServiceProcess {
  child: ChildProcess;
  pid: number;
  baseUrl: string;
  /** Set once the child has exited (with its code or signal). */
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/**
 * Benchmarks poll their job many times a second: lift the per-minute and monthly limits of every
 * tier so that a poll is never refused with 429 (a run's own `env` may still set TIER_LIMITS).
 */
const UNLIMITED_TIERS = JSON.stringify(
  Object.fromEntries(['FREE', 'PRO', 'ENTERPRISE'].map((tier) => [tier, { monthly: null, per_minute: 1_000_000 }])),
);

/** Starts the service in `cwd` with `env` added to ours, and waits until GET /readyz answers 200. */
export async function startService(
  cwd: string,
  env: Record<string, string>,
  port: number,
  runtime: Runtime = { kind: 'tsx' },
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const entry = runtime.kind === 'tsx' ? ['--import', 'tsx', 'src/main.ts'] : [runtime.mainJs];
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd,
    env: { ...SERVICE_ENV, ...process.env, TIER_LIMITS: UNLIMITED_TIERS, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (child.pid === undefined) throw new Error('could not start the service');
  const service: ServiceProcess = { child, pid: child.pid, baseUrl: `http://127.0.0.1:${port}`, exited: null };
  child.on('exit', (code, signal) => {
    service.exited = { code, signal };
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (service.exited) throw new Error(`the service exited before it was ready (${describeExit(service)})`);
    try {
      const response = await fetch(`${service.baseUrl}/readyz`);
      if (response.status === 200) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the service was not ready within 60 s (killed)');
    }
    await sleep(200);
  }
}

/** How the child ended, for messages. */
export function describeExit(service: ServiceProcess): string {
  const exited = service.exited;
  if (!exited) return 'still running';
  return exited.signal ? `signal ${exited.signal}` : `exit code ${exited.code}`;
}

/** Sends SIGTERM and waits for the child to exit (SIGKILL after `graceMs`). */
export async function stopService(service: ServiceProcess, graceMs = 30_000): Promise<void> {
  if (service.exited) return;
  const exited = once(service.child, 'exit');
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
