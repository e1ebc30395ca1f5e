import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { UploadStore } from '../../src/shared/upload-store.js';

/**
 * An export's result file opens while the export still waits for its snapshot. When it cannot be
 * created (here: a folder stands where the file goes; in production a full disk or no inodes or
 * descriptors left), the writer's stream fails, and that failure reaches the export through its
 * pipeline and `finish()`: it must not be an 'error' event nobody listens to, which ends the process.
 */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'upload-store-writer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('a result file that cannot be created fails the writer, not the process', async () => {
  const store = new UploadStore(dir);
  const blocker = join(dir, 'exports', 'result.csv.part');
  await mkdir(blocker, { recursive: true });
  const writer = store.createWriter('exports/result.csv');
  // The open fails on a later turn. Polled, not awaited with a listener: the writer's own listener
  // (or its absence) is what this checks.
  await vi.waitFor(() => expect(writer.stream.errored).toMatchObject({ code: 'EISDIR' }));
  await expect(pipeline(Readable.from(['ean\n']), writer.stream)).rejects.toMatchObject({ code: 'EISDIR' });
  await expect(writer.finish()).rejects.toMatchObject({ code: 'EISDIR' });
  await rm(blocker, { recursive: true });
  await writer.abort();
  expect(await readdir(join(dir, 'exports'))).toEqual([]);
});
