import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { payloadTooLarge } from './errors.js';

/** A stored upload: where it is (relative to the store), its size and content hash. */
export interface StoredUpload {
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * The upload store: one file per job under `DATA_DIR/uploads/`, written as a stream with
 * backpressure so no upload is ever held in memory.
 */
export class UploadStore {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
  }

  /**
   * Streams `source` into a new file, hashing and counting as it goes. Past `maxBytes` it stops
   * with PAYLOAD_TOO_LARGE and deletes the partial file; any other failure deletes it too.
   */
  async save(source: Readable, maxBytes: number): Promise<StoredUpload> {
    const day = new Date().toISOString().slice(0, 10);
    const path = join('uploads', day, `${randomUUID()}.csv`);
    const target = this.absolute(path);
    await mkdir(dirname(target), { recursive: true });
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(payloadTooLarge(maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(target));
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
    return { path, bytes, sha256: hash.digest('hex') };
  }

  /** A read stream over a stored upload. */
  open(path: string): Readable {
    return createReadStream(this.absolute(path), { highWaterMark: 1 << 20 });
  }

  /** The first `bytes` bytes of a stored upload (for delimiter detection). */
  async head(path: string, bytes: number): Promise<Buffer> {
    const file = await open(this.absolute(path), 'r');
    try {
      const buffer = Buffer.alloc(bytes);
      const { bytesRead } = await file.read(buffer, 0, bytes, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  /** Deletes a stored upload; a missing file is not an error. */
  async remove(path: string): Promise<void> {
    await rm(this.absolute(path), { force: true });
  }

  /** The absolute path of a stored upload; refuses paths that would leave the store. */
  absolute(path: string): string {
    const target = resolve(this.root, path);
    if (!target.startsWith(this.root + '/')) throw new Error(`Upload path outside the store: ${path}`);
    return target;
  }
}
