import { serviceNodeFlags } from '../../src/shared/node-flags.js';
import { freePort } from './private-redis.js';
import { spawnService, waitFor, type WorkerChild } from './recovery-support.js';

/** An API process (`ROLE=api`) of a test context, started from source on a loopback port. */
export interface ApiChild {
  child: WorkerChild;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Whether the process is still running and answers /healthz. */
  alive(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts the service as `npm start` runs it, with a V8 heap of `heapMb`, joined to the context
 * whose environment `env` is: a request that would exhaust memory kills this child, not the test.
 */
export async function spawnApi(env: Record<string, string>, heapMb: number): Promise<ApiChild> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnService({ ...env, ROLE: 'api', PORT: String(port), HOST: '127.0.0.1' }, serviceNodeFlags(heapMb));
  const alive = async () => child.process.exitCode === null && child.process.signalCode === null && (await fetch(`${url}/healthz`).catch(() => null))?.status === 200;
  await waitFor('the API process to listen', async () => {
    if (child.process.exitCode !== null) throw new Error(`API process exited: ${child.output()}`);
    return (await alive()) ? true : undefined;
  }, 60_000, 200);
  return {
    child,
    url,
    alive,
    async stop() {
      if (child.process.exitCode !== null || child.process.signalCode !== null) return;
      child.process.kill('SIGTERM');
      await child.exited;
    },
  };
}
