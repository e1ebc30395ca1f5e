import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { payloadTooLarge, serviceUnavailable } from './http/app-error.js';
import type { FileStore, ReadRange, ResultWriter, SaveOptions, StoredUpload } from './storage/file-store.js';
import { isMissingFile } from './storage/storage-errors.js';

export type { StoredUpload } from './storage/file-store.js';

/** The suffix of a file being written; it is renamed to its final name once complete. */
const PARTIAL = '.part';

/** Bytes read from a stored file at a time (see {@link UploadStore.openRead}). */
const READ_CHUNK_BYTES = 256 << 10;

/** The folders the store writes into (and the cleanup looks through for abandoned writes). */
const FOLDERS = ['uploads', 'exports'];

/** A name for a new upload: one folder per day, so the cleanup and operators can find old ones. */
export function newUploadPath(now = new Date()): string {
  return join('uploads', now.toISOString().slice(0, 10), `${randomUUID()}.csv`);
}

/**
 * Counts the bytes flowing through (and hashes them with `options.sha256`); past `maxBytes` it
 * fails with PAYLOAD_TOO_LARGE. `result()` gives the size and hash once the stream has ended.
 */
export function uploadMeter(maxBytes: number, options: SaveOptions = {}): Transform & { result(): Omit<StoredUpload, 'path'> } {
  const hash = options.sha256 ? createHash('sha256') : null;
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) return done(payloadTooLarge(maxBytes));
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  return Object.assign(meter, { result: () => ({ bytes, sha256: hash ? hash.digest('hex') : null }) });
}

/**
 * Makes the name of the renamed file `target` durable (its folder's entry), and those of the
 * folders made for it: its day folder's (which another write may have made a moment before), and
 * any made above it (`made`: the first folder `mkdir` created, if any; each folder's entry is in
 * its parent). The file's content was flushed to disk before it was closed (`flush`): a file the
 * store reports complete (an upload answered 202, an export marked completed) survives a crash of
 * the machine, as the job row PostgreSQL committed does. If this fails, the file is removed.
 */
async function syncFolders(target: string, made: string | undefined): Promise<void> {
  const folders = [dirname(target), dirname(dirname(target))];
  while (made && folders.at(-1) !== dirname(made) && folders.at(-1) !== dirname(folders.at(-1)!)) folders.push(dirname(folders.at(-1)!));
  try {
    for (const folder of folders) await syncFolder(folder);
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
}

/**
 * A failure of the file system under the store (a full disk, a read-only or missing folder) as the
 * client sees it: 503, the upload may be sent again, as with object storage. The client's own
 * failures (an upload cut off) and the limits' refusals pass as they are.
 */
function storeFailure(error: unknown): unknown {
  const { syscall, code } = error as NodeJS.ErrnoException;
  if (typeof syscall !== 'string' || code === 'ECONNRESET') return error;
  return Object.assign(serviceUnavailable('The file storage is unavailable; try again shortly.'), { cause: error });
}

/** Flushes a folder's entries (the names in it) to disk. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The local file store: one file per upload under `DATA_DIR/uploads/`, export files under
 * `DATA_DIR/exports/`, written as streams with backpressure so no file is ever held in memory.
 * A file is written under a `.part` name and renamed when complete, so a reader never sees half
 * of one. Enough for one machine, or several sharing one volume.
 */
export class UploadStore implements FileStore {
  readonly kind = 'file';
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
  }

  async save(source: Readable, maxBytes: number, options: SaveOptions = {}): Promise<StoredUpload> {
    const path = newUploadPath();
    const target = this.absolute(path);
    const meter = uploadMeter(maxBytes, options);
    try {
      const made = await mkdir(dirname(target), { recursive: true });
      await pipeline(source, meter, createWriteStream(target + PARTIAL, { highWaterMark: 1 << 20, flush: true }));
      await rename(target + PARTIAL, target);
      await syncFolders(target, made);
    } catch (error) {
      await rm(target + PARTIAL, { force: true }).catch(() => {});
      throw storeFailure(error);
    }
    return { path, ...meter.result() };
  }

  open(path: string): Readable {
    return this.openRead(path);
  }

  /**
   * Reads in 256 KiB chunks. Each chunk is a new buffer outside the JavaScript heap; one of 1 MiB
   * outlived the young-generation collections while an import parsed it, was promoted, and V8
   * counts promoted outside bytes towards its next full collection, which then came every 10–30 MB
   * read. A 256 KiB chunk is parsed before the next young collection; 64 KiB ones cost 0.1–0.15 s
   * more CPU per 100 MB read.
   */
  openRead(path: string, range: ReadRange = {}): Readable {
    return createReadStream(this.absolute(path), { highWaterMark: READ_CHUNK_BYTES, start: range.start ?? 0, end: range.end });
  }

  async head(path: string, bytes: number): Promise<Buffer> {
    const file = await open(this.absolute(path), 'r').catch((error: unknown) => {
      // A missing file stays ENOENT (rows.csv answers that the upload is gone); a file the store
      // cannot read is a 503, as on object storage.
      throw isMissingFile(error) ? error : storeFailure(error);
    });
    try {
      const buffer = Buffer.alloc(bytes);
      const { bytesRead } = await file.read(buffer, 0, bytes, 0);
      return buffer.subarray(0, bytesRead);
    } catch (error) {
      throw storeFailure(error);
    } finally {
      await file.close();
    }
  }

  async size(path: string): Promise<number | null> {
    return stat(this.absolute(path)).then(
      (file) => (file.isFile() ? file.size : null),
      () => null,
    );
  }

  async remove(path: string): Promise<void> {
    await rm(this.absolute(path), { force: true });
  }

  createWriter(path: string): ResultWriter {
    const target = this.absolute(path);
    const partial = target + PARTIAL;
    // Synchronous: the stream opens its file at once, so the folder must exist before it.
    const made = mkdirSync(dirname(target), { recursive: true });
    const stream = createWriteStream(partial, { highWaterMark: 1 << 20, flush: true });
    // The file opens later, while the export still waits for its snapshot: an open that fails
    // (disk full, out of inodes or descriptors) must not be an 'error' with no listener, which
    // would end the process. The error stays on the stream: the pipeline and finish() reject with it.
    stream.on('error', () => {});
    return {
      stream,
      finish: async () => {
        if (!stream.writableFinished) await finished(stream);
        await rename(partial, target);
        await syncFolders(target, made);
        return (await stat(target)).size;
      },
      abort: async () => {
        // Closed first: a stream still opening its file would otherwise create it after the rm.
        if (!stream.closed) await finished(stream.destroy()).catch(() => {});
        await rm(partial, { force: true });
      },
    };
  }

  async downloadUrl(): Promise<string | null> {
    return null;
  }

  async removeIncomplete(olderThan: Date): Promise<number> {
    let removed = 0;
    for (const folder of FOLDERS) {
      const entries = await readdir(join(this.root, folder), { withFileTypes: true, recursive: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isFile() || !entry.name.endsWith(PARTIAL)) continue;
        const file = join(entry.parentPath, entry.name);
        const modified = await stat(file).then((info) => info.mtime, () => null);
        if (modified && modified < olderThan) {
          await rm(file, { force: true });
          removed += 1;
        }
      }
    }
    return removed;
  }

  /** The absolute path of a stored file; refuses paths that would leave the store. */
  absolute(path: string): string {
    const target = resolve(this.root, path);
    if (!target.startsWith(this.root + '/')) throw new Error(`Upload path outside the store: ${path}`);
    return target;
  }
}
