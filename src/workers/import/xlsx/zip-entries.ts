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

/** unzipper's error for an archive that needs bytes past its last, as the reader reports it. */
const endedEarly = (error: Error): ZipFormatError | null =>
  error.message === 'FILE_ENDED' ? new ZipFormatError('the archive ends early') : null;

/**
 * The members of the zip archive read from `source`, in archive order, each inflated as a
 * stream: nothing is held in memory or written to disk. A member the caller does not read is
 * drained (and counted) before the next one. Leaving the loop early stops reading the source.
 */
export async function* zipEntries(source: Readable, budget: InflateBudget): AsyncGenerator<ZipEntry> {
  const zip = unzipper.Parse({ forceStream: true }) as unknown as Transform;
  let content: BudgetMeter | null = null;
  let zipError: Error | null = null;
  // An error of the source is a failure to read the stored file (the disk, the storage: worth a
  // retry), whatever it looks like: object storage's errors carry no `syscall`.
  let sourceError: Error | null = null;
  source.on('error', (error) => {
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
  zip.on('error', stop);
  source.pipe(zip);
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
    // Reading the stored upload failed (I/O: worth a retry), or the archive itself is bad (not).
    if (sourceError) throw sourceError;
    if (error instanceof InflateLimitError || error instanceof ZipFormatError || !(error instanceof Error) || 'syscall' in error) throw error;
    throw endedEarly(error) ?? new ZipFormatError(error.message);
  } finally {
    source.unpipe(zip);
    source.destroy();
    zip.destroy();
  }
}
