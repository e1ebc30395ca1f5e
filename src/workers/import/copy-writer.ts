import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { DbClient } from '../../shared/db/pool.js';

/** Bytes gathered before one write to the COPY stream: few large writes, not one per row. */
const CHUNK_BYTES = 1 << 20;

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One value in PostgreSQL's COPY text format: `\N` for null, backslash escapes for the rest. */
export function copyValue(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'number') return String(value);
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (char) => COPY_ESCAPES[char]!) : value;
}

/** Writes the decimal digits of `value` (a whole number ≥ 0) at `at`, from the last: no string. Returns the offset after them. */
export function writeDigits(buffer: Buffer, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  for (let i = digits - 1, rest = value; i >= 0; i -= 1, rest = Math.floor(rest / 10)) buffer[at + i] = 0x30 + (rest % 10);
  return at + digits;
}

/**
 * One row in COPY text format, values in column order, with its newline. Built with join, which
 * gives one flat string: `+=` would leave a rope of a dozen heap objects per row while chunks wait.
 */
export function copyLine(values: ReadonlyArray<string | number | null>): string {
  const cells = new Array<string>(values.length);
  for (let i = 0; i < values.length; i += 1) cells[i] = copyValue(values[i]!);
  return cells.join('\t') + '\n';
}

/** COPYs a block of rows already in COPY text format into `table` in one go. */
export async function copyText(
  client: DbClient,
  table: string,
  columns: readonly string[],
  text: string | Buffer,
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  stream.end(text);
  await finished(stream);
}

/**
 * Streams rows into a table with `COPY … FROM STDIN`, batching them into ~1 MiB writes and
 * waiting for `drain` when PostgreSQL is slower than the producer, so memory stays flat.
 */
export class CopyWriter {
  private readonly stream;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** The COPY's error, if it failed while nobody was waiting on it (e.g. its connection was lost). */
  private failure: Error | null = null;

  constructor(client: DbClient, table: string, columns: readonly string[]) {
    this.stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
    // Without a listener, an 'error' emitted between two writes would be an uncaught exception
    // (a crashed worker), and the stream would never settle (a hung end()). Kept for add()/end().
    this.stream.on('error', (error: Error) => {
      this.failure ??= error;
    });
  }

  /** Adds one row of already-ordered values; resolves once the buffer may take more. */
  async add(values: ReadonlyArray<string | number | null>): Promise<void> {
    if (this.failure) throw this.failure;
    const line = copyLine(values);
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= CHUNK_BYTES) await this.flush();
  }

  /** Sends what is buffered and waits for PostgreSQL to confirm the COPY. */
  async end(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.flush();
    this.stream.end();
    await finished(this.stream);
  }

  /**
   * Abandons the COPY (the surrounding work failed); the table is dropped by the caller. `error`
   * may be an abort reason that is not an Error (pg-copy-streams sends its `message`).
   */
  destroy(error: unknown): void {
    this.stream.destroy(error instanceof Error ? error : new Error(String(error)));
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
}
