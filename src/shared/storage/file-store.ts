import type { Readable, Writable } from 'node:stream';

/** A stored file: where it is (relative to the store), its size and, when asked for, its content hash. */
export interface StoredUpload {
  path: string;
  bytes: number;
  /** Hex SHA-256 of the content, with {@link SaveOptions.sha256}; otherwise null. */
  sha256: string | null;
}

/** What {@link FileStore.save} computes besides storing. */
export interface SaveOptions {
  /** Hash the content as it streams (an Idempotency-Key compares requests by it): 86 ms of CPU per 95 MB here. */
  sha256?: boolean;
}

/**
 * A result file being written: the caller streams into `stream` (with backpressure), then calls
 * `finish()`, which makes the file visible under its path and returns its size; on any failure
 * it calls `abort()`, which leaves nothing behind (no partial file, no multipart parts).
 */
export interface ResultWriter {
  readonly stream: Writable;
  finish(): Promise<number>;
  abort(): Promise<void>;
}

/** Which bytes of a stored file to read: from `start` (default 0) to `end`, inclusive (default: the last). */
export interface ReadRange {
  start?: number;
  end?: number;
}

/** How a presigned download should present the file. */
export interface DownloadOptions {
  fileName: string;
  contentType: string;
  expiresInSeconds: number;
}

/**
 * Where uploads and export files live: a local folder (one machine, or a shared volume) or an
 * S3-compatible bucket (many hosts). Paths are relative (`uploads/<day>/<uuid>.csv`,
 * `exports/<day>/<job>.csv`) and kept in the job row, so they mean the same on every host.
 */
export interface FileStore {
  /** `file` or `s3`: for logs and /readyz-style reporting. */
  readonly kind: 'file' | 's3';
  /**
   * Streams `source` into a new file, counting (and, if asked, hashing) as it goes. Past `maxBytes` it stops
   * with PAYLOAD_TOO_LARGE and leaves nothing behind; the file is visible only once complete.
   * Only the API saves (a request body), so its failures are the contract's errors (AppError).
   */
  save(source: Readable, maxBytes: number, options?: SaveOptions): Promise<StoredUpload>;
  /** A read stream over a stored file; it fetches lazily, so a missing file errors on read. */
  open(path: string): Readable;
  /**
   * A read stream from byte `start` to byte `end` (inclusive; the file's end by default). On object
   * storage a dropped connection resumes with a Range request from the byte reached: a network blip
   * neither restarts the read nor repeats a byte.
   */
  openRead(path: string, range?: ReadRange): Readable;
  /**
   * The first `bytes` bytes of a stored file (for delimiter detection). A file that is not stored
   * rejects with an error `isMissingFile` recognizes; a store that cannot answer, with a 503.
   */
  head(path: string, bytes: number): Promise<Buffer>;
  /** The size of a stored file, or null when there is none. */
  size(path: string): Promise<number | null>;
  /** Deletes a stored file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Starts writing a result file at `path` (see {@link ResultWriter}). */
  createWriter(path: string): ResultWriter;
  /** A short-lived URL a client can download the file from, or null when the store has none. */
  downloadUrl(path: string, options: DownloadOptions): Promise<string | null>;
  /**
   * Removes writes that were started before `olderThan` and never completed (a process that died
   * mid-upload): partial files, or unfinished multipart uploads. Returns how many it removed.
   */
  removeIncomplete(olderThan: Date): Promise<number>;
}
