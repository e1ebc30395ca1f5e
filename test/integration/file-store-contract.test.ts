import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/http/app-error.js';
import type { FileStore } from '../../src/shared/storage/file-store.js';
import { createFileStore } from '../../src/shared/storage/create-file-store.js';
import { S3_TEST_CREDENTIALS, startS3TestServer, type S3TestServer } from '../support/s3-test-server.js';
import { filesUnder } from '../support/stored-files.js';
import { waitFor } from '../support/recovery-support.js';

// One contract, two stores: the local folder and object storage (an S3 test server) must behave
// the same for everything the API and the workers do with files.

const MiB = 1024 * 1024;
/** Larger than two S3 parts (5 MiB each), so object storage takes the multipart path. */
const BIG = randomBytes(11 * MiB);

interface StoreUnderTest {
  store: FileStore;
  /** The local folder's directory (the local store only). */
  root?: string;
  /** Everything the store holds: files (or objects) and unfinished writes. */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

async function localStore(): Promise<StoreUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'catalog-store-'));
  return {
    store: await createFileStore({ DATA_DIR: dir, STORAGE_URL: `file://${dir}`, S3_FORCE_PATH_STYLE: false, S3_TIMEOUT_MS: 60_000 }),
    root: dir,
    leftovers: async () => (await filesUnder(dir)).map((file) => relative(dir, file)),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

async function s3Store(): Promise<StoreUnderTest> {
  const server: S3TestServer = await startS3TestServer();
  const store = await createFileStore(
    { DATA_DIR: 'unused', STORAGE_URL: `s3://${server.bucket}/contract`, S3_ENDPOINT: server.endpoint, S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: true, S3_TIMEOUT_MS: 60_000 },
    { credentials: S3_TEST_CREDENTIALS },
  );
  return {
    store,
    async leftovers() {
      const listed = await server.client.send(new ListObjectsV2Command({ Bucket: server.bucket }));
      const pending = await server.pendingUploads();
      return [...(listed.Contents ?? []).map((object) => object.Key!), ...pending.map((key) => `pending upload: ${key}`)];
    },
    close: () => server.stop(),
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A source that yields `bytes` in 64 KiB chunks, like a request body. */
const source = (bytes: Buffer) => Readable.from((function* () {
  for (let offset = 0; offset < bytes.length; offset += 65_536) yield bytes.subarray(offset, offset + 65_536);
})());

/** A source that yields `bytes` in chunks of `size`. */
const chunks = (bytes: Buffer, size: number) => Readable.from((function* () {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
})());

describe.each([
  ['local folder', localStore],
  ['object storage', s3Store],
])('file store contract: %s', (_name, start) => {
  let subject: StoreUnderTest;
  let store: FileStore;

  beforeAll(async () => {
    subject = await start();
    store = subject.store;
  });
  afterAll(async () => subject?.close());

  it('saves an upload and gives back exactly its bytes, size and hash', async () => {
    const saved = await store.save(source(BIG), 20 * MiB, { sha256: true });
    expect(saved).toEqual({ path: expect.stringMatching(/^uploads\/\d{4}-\d\d-\d\d\/[0-9a-f-]{36}\.csv$/), bytes: BIG.length, sha256: sha256(BIG) });
    expect((await buffer(store.open(saved.path))).equals(BIG)).toBe(true);
    expect(await store.size(saved.path)).toBe(BIG.length);
    expect((await store.head(saved.path, 100)).equals(BIG.subarray(0, 100))).toBe(true);
    await store.remove(saved.path);
  });

  it('hashes an upload only when asked to', async () => {
    const saved = await store.save(source(BIG), 20 * MiB);
    expect(saved).toMatchObject({ bytes: BIG.length, sha256: null });
    expect((await buffer(store.open(saved.path))).equals(BIG)).toBe(true);
    await store.remove(saved.path);
  });

  it('reads from a given byte to the end', async () => {
    const saved = await store.save(source(BIG), 20 * MiB);
    const start = 7 * MiB + 123;
    expect((await buffer(store.openRead(saved.path, { start }))).equals(BIG.subarray(start))).toBe(true);
    await store.remove(saved.path);
  });

  it('reads the bytes from a given byte to a given last byte, inclusive', async () => {
    const saved = await store.save(source(BIG), 20 * MiB);
    try {
      for (const [start, end] of [[0, 0], [0, 99], [5 * MiB - 10, 5 * MiB + 10], [BIG.length - 1, BIG.length - 1]] as const) {
        const read = await buffer(store.openRead(saved.path, { start, end }));
        expect(read.equals(BIG.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
      }
    } finally {
      await store.remove(saved.path);
    }
  });

  it('refuses an upload past the limit with PAYLOAD_TOO_LARGE and leaves nothing behind', async () => {
    const failure = await store.save(source(BIG), 6 * MiB).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(await subject.leftovers()).toEqual([]);
  });

  it('saves bodies just under, at and over 64 KiB exactly, whether they come in one chunk or many', async () => {
    // The local store writes a body that ends within 64 KiB at once and streams a larger one.
    for (const size of [1, 65_535, 65_536, 65_537, 300_000]) {
      const body = randomBytes(size);
      for (const chunked of [Readable.from([body]), chunks(body, 1_000)]) {
        const hashed = size % 2 === 1;
        const saved = await store.save(chunked, MiB, { sha256: hashed });
        expect({ bytes: saved.bytes, sha256: saved.sha256 }, `${size} bytes`).toEqual({ bytes: size, sha256: hashed ? sha256(body) : null });
        expect((await buffer(store.open(saved.path))).equals(body), `${size} bytes`).toBe(true);
        await store.remove(saved.path);
      }
    }
    expect(await subject.leftovers()).toEqual([]);
  });

  it('refuses a small body past a smaller limit, and leaves nothing behind', async () => {
    const failure = await store.save(Readable.from([randomBytes(150)]), 100).catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(await store.save(Readable.from([randomBytes(100)]), 100)).toMatchObject({ bytes: 100 });
    const [kept] = await subject.leftovers();
    await store.remove(kept!.replace(/^contract\//, ''));
    expect(await subject.leftovers()).toEqual([]);
  });

  it('leaves nothing behind when the body fails part-way, small or large', async () => {
    for (const size of [1_000, 300_000]) {
      const failing = Readable.from((async function* () {
        yield randomBytes(size);
        throw new Error('the client went away');
      })());
      await expect(store.save(failing, MiB)).rejects.toThrow();
      expect(await subject.leftovers(), `${size} bytes`).toEqual([]);
    }
  });

  it('removes a file, and a missing one is not an error', async () => {
    const saved = await store.save(source(Buffer.from('ean,name\n')), MiB);
    await store.remove(saved.path);
    await store.remove(saved.path);
    expect(await store.size(saved.path)).toBeNull();
    await expect(buffer(store.open(saved.path))).rejects.toThrow();
    expect(await subject.leftovers()).toEqual([]);
  });

  it('writes a result file that is visible only once finished', async () => {
    const writer = store.createWriter('exports/2026-01-01/result.csv');
    for (let offset = 0; offset < BIG.length; offset += MiB) {
      if (!writer.stream.write(BIG.subarray(offset, offset + MiB))) await new Promise((resolve) => writer.stream.once('drain', resolve));
    }
    writer.stream.end();
    expect(await store.size('exports/2026-01-01/result.csv')).toBeNull();
    expect(await writer.finish()).toBe(BIG.length);
    expect((await buffer(store.open('exports/2026-01-01/result.csv'))).equals(BIG)).toBe(true);
    await store.remove('exports/2026-01-01/result.csv');
  });

  it('leaves nothing behind when a result file is abandoned half-way', async () => {
    const writer = store.createWriter('exports/2026-01-01/abandoned.csv');
    writer.stream.write(BIG);
    await waitFor('a partial write', async () => ((await subject.leftovers()).length > 0 ? true : undefined));
    await writer.abort();
    expect(await subject.leftovers()).toEqual([]);
  });

  it('removes writes left unfinished before a given time, and only those', async () => {
    const writer = store.createWriter('exports/2026-01-01/dead-process.csv');
    writer.stream.write(BIG);
    await waitFor('a partial write', async () => ((await subject.leftovers()).length > 0 ? true : undefined));
    expect(await store.removeIncomplete(new Date(Date.now() - 3_600_000))).toBe(0);
    expect(await store.removeIncomplete(new Date(Date.now() + 60_000))).toBe(1);
    expect(await subject.leftovers()).toEqual([]);
    await writer.abort();
  });
});

describe('the local folder', () => {
  it('saves a small upload after the day’s folder was removed under it', async () => {
    const subject = await localStore();
    try {
      const first = await subject.store.save(Readable.from([Buffer.from('ean,name\n')]), MiB);
      const folder = join(subject.root!, first.path, '..');
      await rm(folder, { recursive: true, force: true });
      const second = await subject.store.save(Readable.from([Buffer.from('ean,name\n1,a\n')]), MiB);
      expect((await buffer(subject.store.open(second.path))).toString()).toBe('ean,name\n1,a\n');
      expect(await subject.leftovers()).toEqual([second.path]);
    } finally {
      await subject.close();
    }
  });
});
