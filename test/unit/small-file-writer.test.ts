import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SmallFileWriter } from '../../src/shared/storage/small-file-writer.js';

let dir: string;
const writer = new SmallFileWriter('.part');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'small-file-writer-'));
});
afterAll(async () => {
  await writer.close();
  await rm(dir, { recursive: true, force: true });
});

describe('SmallFileWriter', () => {
  it('writes the files asked for in one turn in one batch to the thread, each whole under its name', async () => {
    const send = vi.spyOn(writer as unknown as { send: (files: unknown[]) => Promise<unknown> }, 'send');
    try {
      const files = Array.from({ length: 20 }, (_, index) => ({ path: join(dir, 'batch', `f${index}.csv`), data: Buffer.from(`row ${index}\n`.repeat(index + 1)) }));
      await Promise.all(files.map((file) => writer.write(file.path, file.data)));
      expect(send).toHaveBeenCalledTimes(1);
      for (const file of files) expect(await readFile(file.path)).toEqual(file.data);
      expect((await readdir(join(dir, 'batch'))).filter((name) => name.endsWith('.part'))).toEqual([]);
    } finally {
      send.mockRestore();
    }
  });

  it('makes a missing folder, also one removed after an earlier write into it', async () => {
    const folder = join(dir, 'day');
    await writer.write(join(folder, 'a.csv'), Buffer.from('a'));
    await rm(folder, { recursive: true });
    await writer.write(join(folder, 'b.csv'), Buffer.from('b'));
    expect(await readFile(join(folder, 'b.csv'), 'utf8')).toBe('b');
  });

  it('fails only the file that cannot be written, with its errno code, and leaves no .part file', async () => {
    const blocker = join(dir, 'not-a-folder');
    await writeFile(blocker, 'a file where a folder would be');
    const results = await Promise.allSettled([
      writer.write(join(dir, 'ok-1.csv'), Buffer.from('one')),
      writer.write(join(blocker, 'x.csv'), Buffer.from('never')),
      writer.write(join(dir, 'ok-2.csv'), Buffer.from('two')),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ENOTDIR' });
    expect(await readFile(join(dir, 'ok-2.csv'), 'utf8')).toBe('two');
    expect((await readdir(dir)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('starts a new thread for the next file once its thread has stopped', async () => {
    await writer.write(join(dir, 'before.csv'), Buffer.from('before'));
    await writer.close();
    await writer.write(join(dir, 'after.csv'), Buffer.from('after'));
    expect(await readFile(join(dir, 'after.csv'), 'utf8')).toBe('after');
  });
});
