import type { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';

/**
 * `COPY … TO STDOUT` as a readable stream of blocks of about 1 MiB, for `client.query(...)` of
 * node-postgres (a "submittable", as pg-copy-streams' `to` is).
 *
 * PostgreSQL sends COPY output as one CopyData message per row. pg-copy-streams turns every
 * message into a Buffer slice and concatenates them again per socket read, and a file stream
 * then writes each of those few-kilobyte pieces on its own; at a million rows that is most of the
 * exporting process's CPU time. This stream copies each message's content once, straight into
 * the current block, and counts the messages, which gives the rows streamed so far exactly.
 *
 * Protocol handling follows pg-copy-streams: while the COPY runs, the connection's socket is
 * read here (pg's data listener is taken off it); CopyOutResponse, notices, notifications and
 * parameter changes are skipped; CopyDone (or any other message) ends the output and the rest of
 * the socket data goes back to pg, which then reports CommandComplete (the row count) and
 * ReadyForQuery. An ErrorResponse is handed back to pg unread, which reports it through
 * {@link handleError}.
 */

const BLOCK_BYTES = 1 << 20;

/** Where a stream's blocks come from: by default a new one for each block. */
export type BlockSource = () => Buffer;

const newBlock: BlockSource = () => Buffer.allocUnsafe(BLOCK_BYTES);
const COPY_DATA = 0x64;
const ERROR_RESPONSE = 0x45;
/** Messages that may come between CopyData messages; any other one ends the copy-out. */
const INTERSPERSED = new Set([0x48 /* CopyOutResponse */, COPY_DATA, 0x4e /* Notice */, 0x41 /* Notification */, 0x53 /* ParameterStatus */]);

/** The part of pg's Connection this stream uses. */
interface PgConnection {
  stream: EventEmitter & { read(): Buffer | null; pause(): void; resume(): void };
  query(text: string): void;
}

type DataHandler = (chunk: Buffer) => void;

export class CopyOutStream extends Readable {
  /** Rows written by PostgreSQL so far (CopyData messages received). */
  rows = 0;
  /** The row count PostgreSQL reported at the end (CommandComplete). */
  rowCount = 0;

  private connection: PgConnection | null = null;
  private pgDataHandler: DataHandler | null = null;
  private readonly onReadable = () => this.forward();
  private wanted = false;
  private forwarding = false;
  private ended = false;
  /** An incomplete message header left at the end of the last socket chunk. */
  private leftover: Buffer | null = null;
  private code = 0;
  /** Content bytes of the current message still to come; -1 between messages. */
  private unread = -1;
  /** The block being filled; taken from `blocks` when the first byte for it comes. */
  private block: Buffer | null = null;
  private filled = 0;

  /**
   * `prefix` (e.g. a CSV header line) goes out before the COPY's output. `blocks` gives the
   * buffers to fill: a reader that is done with a block before it reads the next may hand the same
   * one back.
   */
  constructor(
    private readonly text: string,
    prefix?: Buffer,
    private readonly blocks: BlockSource = newBlock,
  ) {
    super({ highWaterMark: BLOCK_BYTES });
    if (prefix) this.append(prefix, 0, prefix.length);
  }

  /** Called by pg's client when the query's turn comes. */
  submit(connection: PgConnection): void {
    this.connection = connection;
    const handlers = connection.stream.listeners('data') as DataHandler[];
    if (handlers.length !== 1) throw new Error(`expected one data listener on the connection, found ${handlers.length}`);
    this.pgDataHandler = handlers[0]!;
    connection.stream.removeListener('data', this.pgDataHandler);
    connection.stream.pause();
    this.forward();
    connection.stream.on('readable', this.onReadable);
    connection.query(this.text);
  }

  handleError(error: Error): void {
    this.destroy(error);
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /COPY (\d+)/.exec(message?.text ?? '');
    if (match) this.rowCount = Number(match[1]);
  }

  handleReadyForQuery(): void {}

  override _read(): void {
    this.wanted = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || !this.wanted || this.ended || !this.connection) return;
    this.forwarding = true;
    let chunk: Buffer | null;
    while (this.wanted && !this.ended && (chunk = this.connection.stream.read()) !== null) this.parse(chunk);
    this.forwarding = false;
  }

  private parse(chunk: Buffer): void {
    const data = this.leftover ? Buffer.concat([this.leftover, chunk]) : chunk;
    this.leftover = null;
    const end = data.length;
    let at = 0;
    while (at < end) {
      if (this.unread < 0) {
        if (data[at] === ERROR_RESPONSE) {
          this.detach(data.subarray(at));
          return;
        }
        if (end - at < 5) {
          this.leftover = data.subarray(at);
          return;
        }
        this.code = data[at]!;
        this.unread = data.readUInt32BE(at + 1) - 4;
        at += 5;
        if (this.code === COPY_DATA) this.rows += 1;
      }
      const n = Math.min(this.unread, end - at);
      if (this.code === COPY_DATA) this.append(data, at, at + n);
      at += n;
      this.unread -= n;
      if (this.unread === 0) {
        this.unread = -1;
        if (!INTERSPERSED.has(this.code)) {
          if (this.filled > 0) this.pushBlock();
          this.detach(data.subarray(at));
          this.push(null);
          return;
        }
      }
    }
  }

  private append(data: Buffer, start: number, end: number): void {
    while (start < end) {
      const block = (this.block ??= this.blocks());
      const n = Math.min(end - start, block.length - this.filled);
      data.copy(block, this.filled, start, start + n);
      this.filled += n;
      start += n;
      if (this.filled === block.length) this.pushBlock();
    }
  }

  private pushBlock(): void {
    const block = this.block!.subarray(0, this.filled);
    this.block = null;
    this.filled = 0;
    this.wanted = this.push(block);
  }

  /** Gives the socket back to pg, with the data after the COPY's output. */
  private detach(rest: Buffer): void {
    this.ended = true;
    const stream = this.connection!.stream;
    stream.removeListener('readable', this.onReadable);
    stream.on('data', this.pgDataHandler!);
    this.pgDataHandler!(rest);
    process.nextTick(() => stream.resume());
  }
}
