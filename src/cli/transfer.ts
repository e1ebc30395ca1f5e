import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiClient, ApiRequest } from './api-client.js';
import type { DownloadTarget } from './destination.js';
import { CliError, EXIT } from './exit-codes.js';
import type { ProgressBar, ProgressOutput } from './progress.js';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * A pass-through stream that reports the bytes that went through it. With `expected`, a stream of
 * any other length fails with that error instead of ending: the upload is cut off, never sent short.
 */
function byteCounter(
  onBytes: (total: number) => void,
  expected?: { size: number; error: (read: number) => Error; whole: () => void },
): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      if (expected && total > expected.size) return callback(expected.error(total));
      onBytes(total);
      callback(null, chunk);
    },
    flush(callback) {
      if (expected && total !== expected.size) return callback(expected.error(total));
      expected?.whole();
      callback(null);
    },
  });
}

/**
 * The size of a readable file; a missing one, a folder, or a pipe or device (such as /dev/stdin:
 * an upload is read again from the start on each attempt, which only a file allows) is a usage error.
 */
export async function fileSize(path: string): Promise<number> {
  const notAFile = (note = '') =>
    new CliError(`${path}: not a regular file; stdin and pipes cannot be uploaded, save the data to a file first${note}.`, EXIT.usage);
  // `-` is stdin, as for other tools; a file of that name is `./-`.
  if (path === '-') throw notAFile(' (a file named "-" is ./-)');
  const info = await stat(path).catch(() => null);
  if (!info) throw new CliError(`${path}: no such file.`, EXIT.usage);
  if (info.isDirectory()) throw new CliError(`${path}: is a folder; name a file.`, EXIT.usage);
  if (!info.isFile()) throw notAFile();
  return info.size;
}

/**
 * POSTs a file as the raw request body with a bar (bytes, MB/s, ETA) and returns the JSON answer.
 * Each attempt reads the file again from the start; the caller's Idempotency-Key makes a retried
 * upload (also one whose answer was cut off) return the same job.
 */
export async function uploadFile<T>(
  client: ApiClient,
  progress: ProgressOutput,
  path: string,
  request: { path: string; query: Record<string, string | undefined>; headers: Record<string, string> },
): Promise<T> {
  const size = await fileSize(path);
  const bar = progress.bar('upload', 'bytes');
  const contentType = extname(path).toLowerCase() === '.xlsx' ? XLSX_TYPE : 'text/csv';
  const body: ApiRequest['body'] = (sent) => {
    const source = createReadStream(path);
    // A file written to while it is sent (a spreadsheet still saving it, a copy not finished) would
    // reach the service cut short or mixed, and be imported as if whole.
    const changed = (read: number) =>
      new CliError(`${path} changed while it was being sent (${size} bytes when it was opened, ${read} read); nothing was imported. Send it again once it is complete.`, EXIT.usage);
    const counted = byteCounter((sent) => bar.update(sent, size), { size, error: changed, whole: sent });
    // `pipe` passes no error on: a file that cannot be read (gone since the stat, or between two
    // attempts) fails the request with a usage error instead of ending the CLI with a stack trace.
    source.on('error', (error) => counted.destroy(new CliError(`Could not read ${path}: ${error.message}`, EXIT.usage)));
    return { stream: Readable.toWeb(source.pipe(counted)) as ReadableStream<Uint8Array>, contentType };
  };
  try {
    return await client.json<T>('POST', request.path, { query: request.query, headers: request.headers, body });
  } finally {
    bar.stop();
  }
}

/**
 * The file name the service gives a download (`Content-Disposition: attachment; filename="…"`),
 * when it is a plain name: no folder part, no leading dot, nothing a shell would trip on.
 */
function attachmentName(response: Response): string | null {
  const header = response.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]*)"/i.exec(header)?.[1] ?? /filename=([^;\s]+)/i.exec(header)?.[1];
  return name !== undefined && /^\w[\w.-]*$/.test(name) ? name : null;
}

/** A finished download: its bytes and the file that holds them. */
export interface Download {
  bytes: number;
  file: string;
}

/**
 * GETs `path` into `target`, with a bar when `progress` is given. The body goes to a `.part` file
 * beside the destination, renamed at the end, so an interrupted download never leaves a file that
 * looks whole. The body is saved within the client's attempt: a download cut off mid-body is a
 * network error, and the GET is sent again into a new `.part` file.
 */
export async function downloadTo(
  client: ApiClient,
  progress: ProgressOutput | null,
  path: string,
  target: DownloadTarget,
  partialFiles: Set<string>,
): Promise<Download> {
  const bar: ProgressBar | null = progress?.bar('download', 'bytes') ?? null;
  try {
    return await client.receive('GET', path, { followRedirect: true }, (response) => saveBody(response, path, target, bar, partialFiles));
  } finally {
    bar?.stop();
  }
}

/**
 * `DEST.<random>.part` beside `destination`: the attempt's own, never another run's writing the same
 * destination at the same time (it is created exclusively, see {@link saveBody}).
 */
function partialPath(destination: string): string {
  return join(dirname(destination), `${basename(destination)}.${randomBytes(4).toString('hex')}.part`);
}

/**
 * One attempt's answer to a download, written to its `.part` file and renamed. The `.part` file is
 * the attempt's own: two runs downloading to one destination at once each write and rename their
 * own bytes, and the one renaming last replaces the other's file, as one run after the other
 * would. The `.part` file is in `partialFiles` while it exists: Ctrl+C ends the process at once
 * (main.ts), without this function's cleanup, and removes what the set holds. A local failure (no such folder, no
 * permission) is the caller's to fix and thrown as a usage error; any other is the network's,
 * thrown as it is for the client to retry.
 */
async function saveBody(
  response: Response,
  path: string,
  target: DownloadTarget,
  bar: ProgressBar | null,
  partialFiles: Set<string>,
): Promise<Download> {
  const destination = 'file' in target ? target.file : join(target.folder, attachmentName(response) ?? target.fallbackName);
  const length = response.headers.get('content-length');
  const total = length === null ? null : Number(length);
  const partial = partialPath(destination);
  let written = 0;
  let created = false;
  partialFiles.add(partial);
  try {
    if (!response.body) throw new CliError(`The service sent no body for ${path}.`, EXIT.server);
    const counter = byteCounter((bytes) => {
      written = bytes;
      bar?.update(bytes, total);
    });
    // Opened before the first byte is counted: once the bar shows, the .part file is there. `wx`:
    // a file already of that name is not this attempt's to write into, nor to remove.
    const file = createWriteStream(partial, { flags: 'wx' });
    await once(file, 'open');
    created = true;
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), counter, file);
    await rename(partial, destination);
    return { bytes: written, file: destination };
  } catch (error) {
    // The real failure is the one to report, not a cleanup's (a name too long fails both alike).
    // A body not yet piped (the file could not be opened) is cancelled, not left to hold its connection.
    await response.body?.cancel().catch(() => undefined);
    if (created) await rm(partial, { force: true }).catch(() => undefined);
    const local = typeof (error as NodeJS.ErrnoException).syscall === 'string';
    if (local) throw new CliError(`Could not download ${path} to ${destination}: ${(error as Error).message}`, EXIT.usage);
    throw error;
  } finally {
    partialFiles.delete(partial);
  }
}
