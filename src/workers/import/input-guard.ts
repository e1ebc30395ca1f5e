import { Transform, type TransformCallback } from 'node:stream';
import { firstInvalidUtf8, utf8SequenceLength } from '../../shared/utf8-offset.js';

/** A problem with the bytes of an upload, found before they reach the CSV parser. */
export interface InputProblem {
  kind: 'invalid_utf8' | 'binary';
  /** 1-based physical line of the file holding the first bad byte. */
  line: number;
  /** 1-based character position of the bad byte in its line. */
  column: number;
  /** The bad byte itself. */
  byte: number;
  /** The line up to the bad byte (as far as it was still held), to tell which cell it is in. */
  before: string;
}

const NEWLINE = 0x0a;

/** Most bytes passed on in one piece (an upload may be read in chunks of up to 1 MiB). */
const PIECE_BYTES = 32 * 1024;

/** Most bytes of an unfinished line held back; longer lines pass on in pieces. */
const MAX_HELD_BYTES = 4 * 1024 * 1024;

/**
 * Passes an upload through unchanged while checking that it is UTF-8 text: it stops at the first
 * invalid byte sequence or NUL byte, records where it was ({@link InputGuard.problem}) and ends the
 * stream after the last complete line before it, so the parser still reports every row up to there.
 * Valid bytes are passed on as they are, but only whole lines: the unfinished last line of a chunk
 * is held back until its newline arrives, so a bad byte found later in that line never follows half
 * of it into the parser (a line longer than {@link MAX_HELD_BYTES} is passed on in pieces, to keep
 * memory flat).
 */
export class InputGuard extends Transform {
  problem: InputProblem | null = null;
  private carry: Buffer = Buffer.alloc(0);
  private linesBefore = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.problem) return done();
    let data = chunk;
    if (this.carry.length > 0) {
      // The held line is finished by the chunk's first line: only those bytes are copied, not the
      // whole chunk. A copy is memory outside the JavaScript heap, which V8 counts towards its
      // next full collection once it outlives a young one.
      // The finished line ends at a newline, so passing it leaves nothing held.
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) data = Buffer.concat([this.carry, chunk]);
      else if (!this.pass(Buffer.concat([this.carry, chunk.subarray(0, newline + 1)]))) return done();
      else data = chunk.subarray(newline + 1);
    }
    this.pass(data);
    done();
  }

  /** Checks `data` and passes on its whole lines, holding back the unfinished last one; false at a problem. */
  private pass(data: Buffer): boolean {
    const complete = data.length - incompleteTail(data);
    const head = data.subarray(0, complete);
    const bad = firstBadByte(head);
    if (bad !== -1) {
      this.stopAt(head, bad, problemKind(head));
      return false;
    }
    let end = head.lastIndexOf(NEWLINE) + 1;
    if (data.length - end > MAX_HELD_BYTES) end = complete;
    this.linesBefore += countNewlines(head, end);
    this.pushInPieces(head.subarray(0, end));
    this.carry = Buffer.from(data.subarray(end));
    return true;
  }

  override _flush(done: TransformCallback): void {
    // The last line, held back; a character cut short at the very end is invalid UTF-8.
    if (!this.problem && this.carry.length > 0) {
      const bad = firstBadByte(this.carry);
      if (bad === -1) this.pushInPieces(this.carry);
      else this.stopAt(this.carry, bad, problemKind(this.carry));
    }
    done();
  }

  /**
   * Passes `data` on in pieces of at most {@link PIECE_BYTES}: the parser turns a whole piece into
   * records at once, and a megabyte of records waiting to be read outlives the young generation.
   */
  private pushInPieces(data: Buffer): void {
    for (let at = 0; at < data.length; at += PIECE_BYTES) this.push(data.subarray(at, at + PIECE_BYTES));
  }

  private stopAt(data: Buffer, offset: number, kind: InputProblem['kind']): void {
    const lastNewline = offset === 0 ? -1 : data.lastIndexOf(NEWLINE, offset - 1);
    const before = data.toString('utf8', lastNewline + 1, offset);
    this.problem = {
      kind,
      line: this.linesBefore + countNewlines(data, offset) + 1,
      column: [...before].length + 1,
      byte: data[offset]!,
      before,
    };
    if (lastNewline >= 0) this.pushInPieces(data.subarray(0, lastNewline + 1));
    this.push(null);
  }
}

/**
 * NUL bytes in the failing data mean binary content (an image, an archive) rather than text in
 * another encoding, even when an invalid sequence comes first (a PNG starts with 0x89).
 */
function problemKind(data: Buffer): InputProblem['kind'] {
  return data.indexOf(0) !== -1 ? 'binary' : 'invalid_utf8';
}

/** How many bytes at the end of `data` begin a UTF-8 character that continues in the next chunk. */
export function incompleteTail(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back += 1) {
    const byte = data[data.length - back]!;
    if ((byte & 0xc0) !== 0x80) {
      const needed = byte >= 0xc0 ? utf8SequenceLength(byte) : 1;
      return needed > back ? back : 0;
    }
  }
  return 0;
}

/** Offset of the first NUL byte or invalid UTF-8 sequence, or -1 when there is none. */
function firstBadByte(data: Buffer): number {
  const nul = data.indexOf(0);
  const invalid = firstInvalidUtf8(nul === -1 ? data : data.subarray(0, nul));
  return invalid === -1 ? nul : invalid;
}

function countNewlines(data: Buffer, end: number): number {
  let count = 0;
  for (let at = data.indexOf(NEWLINE); at !== -1 && at < end; at = data.indexOf(NEWLINE, at + 1)) count += 1;
  return count;
}
