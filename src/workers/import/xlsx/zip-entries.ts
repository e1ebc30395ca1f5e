import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import unzipper from 'unzipper';

/** One member of a zip archive, as its inflated bytes arrive. */
export interface ZipEntry {
  /** The member's path inside the archive, as stored (e.g. `xl/worksheets/sheet1.xml`). */
  path: string;
  content: Readable;
}

/** The inflated bytes a workbook may hold in all; shared by every entry of one read. */
export class InflateBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/** The archive inflates to more than its {@link InflateBudget}: a zip bomb, or simply too large. */
export class InflateLimitError extends Error {
  override name = 'InflateLimitError';
  constructor(readonly limit: number) {
    super(`The workbook inflates to more than ${limit} bytes.`);
  }
}

/** The bytes are not a zip archive that can be read. */
export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

/**
 * Counts inflated bytes against the budget. The count is of the bytes really produced, not of
 * the sizes the archive declares, so a member that lies about its size cannot get past it.
 */
class BudgetMeter extends Transform {
  constructor(private readonly budget: InflateBudget) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.budget.used += chunk.length;
    if (this.budget.used > this.budget.limit) return done(new InflateLimitError(this.budget.limit));
    done(null, chunk);
  }
}

/** unzipper's parser: `reachedCD` once it has read the first central-directory header. */
type ZipParser = Transform & { reachedCD?: boolean };

/**
 * Passes the archive on until unzipper has reached its central directory, then ends it. The
 * members are read from their local headers, all before the directory; what follows (the
 * directory, the end record, and whatever an upload puts before it) is not needed, and unzipper
 * would look for the end record by gathering every byte in one buffer, copying it again for each
 * chunk: seconds per megabyte, in memory, before the archive's size is checked at all.
 */
class MembersOnly extends Transform {
  /** Set when the input has been ended at the central directory. */
  cut = false;
  constructor(
    private readonly zip: ZipParser,
    private readonly onCut: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.cut) return done();
    if (!this.zip.reachedCD) return done(null, chunk);
    this.cut = true;
    this.push(null);
    done();
    this.onCut();
  }
}

/** unzipper's error for an archive that needs bytes past its last, as the reader reports it. */
const endedEarly = (error: Error): ZipFormatError | null =>
  error.message === 'FILE_ENDED' ? new ZipFormatError('the archive ends early') : null;

/**
 * The members of the zip archive read from `source`, in archive order, each inflated as a
 * stream: nothing is held in memory or written to disk. A member the caller does not read is
 * drained (and counted) before the next one. Leaving the loop early stops reading the source, and
 * so does `signal`: the member being read and the loop then fail with its reason.
 */
export async function* zipEntries(source: Readable, budget: InflateBudget, signal?: AbortSignal): AsyncGenerator<ZipEntry> {
  if (signal?.aborted) {
    source.destroy();
    throw signal.reason;
  }
  const zip = unzipper.Parse({ forceStream: true }) as unknown as ZipParser;
  let content: BudgetMeter | null = null;
  let zipError: Error | null = null;
  // An error of the source is a failure to read the stored file (the disk, the storage: worth a
  // retry), whatever it looks like: object storage's errors carry no `syscall`.
  let sourceError: Error | null = null;
  source.on('error', (error) => {
    // Destroyed once it is no longer needed: what it says then is no failure of the import.
    if (gate.cut || signal?.aborted) return;
    sourceError ??= error;
    zip.destroy(error);
  });
  // An archive cut short ends inside a member: the member's stream never ends, and the caller
  // reading it would wait forever unless the archive's error reaches it, even when the error
  // comes before the member is handed out. unzipper tells the early end by FILE_ENDED, when it
  // needs bytes past the last; its 'close' comes when the input ends, which for a small upload
  // read in one chunk is before its members are parsed, so it says nothing about the archive.
  const stop = (error: Error) => {
    zipError ??= endedEarly(error) ?? error;
    if (content && !content.readableEnded) content.destroy(zipError);
  };
  // Ended at the central directory, unzipper either reads the rest of the directory and the end
  // record from what it holds, or finds the input ends first: all members have been read then.
  const gate = new MembersOnly(zip, () => {
    source.unpipe(gate);
    source.destroy();
  });
  const endedAtDirectory = (error: Error) => gate.cut && zip.reachedCD === true && error.message === 'FILE_ENDED';
  zip.on('error', (error: Error) => {
    if (!endedAtDirectory(error)) stop(error);
  });
  const abort = () => {
    stop(signal!.reason as Error);
    source.destroy();
    zip.destroy(signal!.reason as Error);
  };
  signal?.addEventListener('abort', abort, { once: true });
  source.pipe(gate).pipe(zip);
  try {
    for await (const entry of zip as AsyncIterable<unzipper.Entry>) {
      content = new BudgetMeter(budget);
      const reading = content;
      entry.on('error', (error) => reading.destroy(error));
      if (zipError) reading.destroy(zipError);
      entry.pipe(reading);
      yield { path: entry.path, content: reading };
      if (!reading.readableEnded) {
        reading.resume();
        await finished(reading);
      }
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof Error && endedAtDirectory(error)) return;
    // Reading the stored upload failed (I/O: worth a retry), or the archive itself is bad (not).
    if (sourceError) throw sourceError;
    if (error instanceof InflateLimitError || error instanceof ZipFormatError || !(error instanceof Error) || 'syscall' in error) throw error;
    throw endedEarly(error) ?? new ZipFormatError(error.message);
  } finally {
    signal?.removeEventListener('abort', abort);
    source.unpipe(gate);
    source.destroy();
    gate.destroy();
    zip.destroy();
  }
}
