import { Readable } from 'node:stream';
import type { Db } from '../db/pool.js';
import { UUID_PATTERN as UUID } from '../uuid.js';
import type { FileStore, ReadRange } from './file-store.js';
import { inlineUpload, inlineUploadSize, removeInlineUpload } from './inline-upload-queries.js';

/**
 * An upload that ends within this many bytes (most small imports and every update of a few rows)
 * is kept in PostgreSQL with its job row, in the same statement and commit; a larger one is
 * streamed into the file store.
 */
export const INLINE_UPLOAD_BYTES = 64 << 10;

/** The paths of uploads kept in PostgreSQL (table `inline_uploads`); no store path starts so. */
const INLINE_PREFIX = 'inline/';

/** The path (the job's input_path) of the upload kept with job `jobId`. */
export function inlinePath(jobId: string): string {
  return `${INLINE_PREFIX}${jobId}`;
}

const isInline = (path: string) => path.startsWith(INLINE_PREFIX);
/** The job whose upload an inline path names, or null for a path that names none. */
const jobOf = (path: string): string | null => (UUID.test(path.slice(INLINE_PREFIX.length)) ? path.slice(INLINE_PREFIX.length) : null);

/** Marks a store whose inline uploads are already read from PostgreSQL. */
const WRAPPED = Symbol('inline uploads');

/**
 * `store`, with the uploads kept in PostgreSQL (the paths {@link inlinePath} makes) read and
 * removed as if they were its files: the import, the rows.csv download and the retention cleanup
 * need not know where an upload is. Everything else is the store's.
 */
export function withInlineUploads(db: Db, store: FileStore): FileStore {
  if (WRAPPED in store) return store;
  const content = (path: string) => inlineUpload(db, jobOf(path));
  const missing = (path: string) => Object.assign(new Error(`ENOENT: no such upload, open '${path}'`), { code: 'ENOENT' });
  const readFrom = (path: string, { start = 0, end }: ReadRange = {}): Readable =>
    Readable.from(
      (async function* () {
        const data = await content(path);
        if (!data) throw missing(path);
        if (start < data.length) yield data.subarray(start, end === undefined ? undefined : end + 1);
      })(),
      { objectMode: false },
    );
  const wrapped: FileStore & { [WRAPPED]: true } = {
    [WRAPPED]: true,
    kind: store.kind,
    save: (source, maxBytes, options) => store.save(source, maxBytes, options),
    open: (path) => (isInline(path) ? readFrom(path) : store.open(path)),
    openRead: (path, range) => (isInline(path) ? readFrom(path, range) : store.openRead(path, range)),
    head: async (path, bytes) => {
      if (!isInline(path)) return store.head(path, bytes);
      const data = await content(path);
      if (!data) throw missing(path);
      return data.subarray(0, bytes);
    },
    size: (path) => (isInline(path) ? inlineUploadSize(db, jobOf(path)) : store.size(path)),
    remove: (path) => (isInline(path) ? removeInlineUpload(db, jobOf(path)) : store.remove(path)),
    createWriter: (path) => store.createWriter(path),
    downloadUrl: (path, options) => store.downloadUrl(path, options),
    removeIncomplete: (olderThan) => store.removeIncomplete(olderThan),
  };
  return wrapped;
}
