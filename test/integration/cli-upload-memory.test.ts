import { readFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCli, startProcess, type CompiledCli } from '../support/cli-runner.js';

// An upload streams the file: the CLI's memory stays the same whatever the file's size. A stand-in
// service reads the body and throws it away, and reads the CLI's peak resident memory (VmHWM)
// once the last byte has arrived, while the CLI waits for the answer.

const FILE_BYTES = 200 << 20;
/** Far below the file: the CLI itself takes some 60–100 MB. */
const MAX_PEAK_BYTES = 150 << 20;

let compiled: CompiledCli;
let folder: string;
let server: Server | null = null;

beforeAll(async () => {
  compiled = await compileCli();
  folder = await mkdtemp(join(tmpdir(), 'catalog-cli-memory-'));
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await compiled?.remove();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** Peak resident memory of process `pid` in bytes, from /proc (Linux). */
async function peakResidentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kilobytes) * 1024;
}

describe('catalog import of a large file', { timeout: 60_000 }, () => {
  it('uploads 200 MB without holding the file in memory', async () => {
    const file = join(folder, 'large.csv');
    // A sparse file: on disk at once, read back as 200 MB like any other.
    await writeFile(file, '');
    await truncate(file, FILE_BYTES);
    let pid = 0;
    const received: number[] = [];
    const peaks: number[] = [];
    server = createServer((request, response) => {
      let bytes = 0;
      request.on('data', (chunk: Buffer) => (bytes += chunk.length));
      request.on('end', () => {
        received.push(bytes);
        void peakResidentBytes(pid).then((peak) => {
          peaks.push(peak);
          response.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'job-1', status: 'processing' }));
        });
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };

    const cli = startProcess(compiled.command, ['import', file, '--no-wait'], { CATALOG_URL: `http://127.0.0.1:${port}`, CATALOG_API_KEY: 'ck_test_key' });
    pid = cli.child.pid!;
    const run = await cli.done;

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Import accepted: job job-1');
    expect(received).toEqual([FILE_BYTES]);
    expect(peaks).toHaveLength(1);
    expect(peaks[0]!, `peak RSS ${Math.round(peaks[0]! / 2 ** 20)} MB`).toBeLessThan(MAX_PEAK_BYTES);
  });
});
