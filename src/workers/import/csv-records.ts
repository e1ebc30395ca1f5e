import { parse } from 'csv-parse';
import { csvParseOptions, pieces, splitLine, type CsvReadSettings } from './csv-text.js';
import { incompleteTail } from './input-guard.js';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** A record the scanner cannot settle with what it holds: wait for more text. */
const MORE = 1;
/** Something csv-parse might reject or read otherwise: it reads the rest of the file. */
const HAND_OVER = 2;

/**
 * Records of an upload in file order. `lines` (the CSV reader's own batches) holds the text of
 * each record read from one line without a quote, its delimiters and all (undefined for the
 * others): such a line may go into a chunk as it is (see VerbatimLines).
 */
export type RecordBatch = string[][] & { lines?: Array<string | undefined> };

/**
 * The record of a quote-free line the reader did not cut into cells (see
 * {@link CsvRecordReader.cutPlainLines}): its text is in the batch's `lines`.
 */
export const UNCUT: readonly string[] = Object.freeze([]);

type Scanned = { fields: string[]; next: number } | typeof MORE | typeof HAND_OVER;

/** Where a scan of decoded text stopped: the next record, the next quote (-1: none), and why. */
interface Scan {
  pos: number;
  quoteAt: number;
  handOver: boolean;
  /** The batch reached {@link BATCH_RECORDS}: records may follow in the same text. */
  full: boolean;
}

/**
 * Records per batch. A piece of the upload holds thousands of records; handed on in smaller
 * batches, fewer of them are alive at a young-generation collection, which then copies less.
 */
const BATCH_RECORDS = 1_000;

/**
 * The import's CSV reader: the records csv-parse gives with {@link csvParseOptions}, record for
 * record, at a fraction of its cost. csv-parse appends every byte of a field to a buffer of its
 * own; this reader cuts fields out of decoded text instead (a line without a quote field by field,
 * see splitLine), and reads quoted fields only where a line has a quote. Whatever it is not sure to
 * read exactly as csv-parse does (a misplaced or unclosed quote, a record over the size limit)
 * happens at the start of a record: from there csv-parse itself reads the rest of the file, so
 * the records are the same and every error is csv-parse's own. Such an error counts lines and
 * records from where csv-parse took over ({@link handedOver} says so).
 *
 * Records come in batches (up to {@link BATCH_RECORDS} from each piece of the upload), to keep
 * the per-record cost of async iteration out of the hot loop.
 */
export class CsvRecordReader {
  /** Set once csv-parse reads the rest of the file: its errors count from there, not from the file's start. */
  handedOver = false;
  /**
   * Whether quote-free lines are cut into cells. When the reader's caller checks such lines where
   * they lie (see PlainRows), it turns this off: those records are then {@link UNCUT}, their text
   * in the batch's `lines`, from the next batch on.
   */
  cutPlainLines = true;
  private readonly delimiter: string;
  private readonly delimiterCode: number;

  /** `settings.delimiter` is one character other than a quote or a line end, as every upload's is. */
  constructor(private readonly settings: CsvReadSettings) {
    this.delimiter = settings.delimiter;
    this.delimiterCode = settings.delimiter.charCodeAt(0);
    if (settings.delimiter.length !== 1 || [QUOTE, LF, CR].includes(this.delimiterCode)) {
      throw new RangeError(`unsupported CSV delimiter ${JSON.stringify(settings.delimiter)}`);
    }
  }

  /**
   * The records of `input` (UTF-8 bytes), as a stage of `stream.pipeline` or on their own. A
   * consumer that leaves early ends `input`'s iteration too, which destroys a stream (and, in a
   * pipeline, the file it reads): read by hand, `input` would otherwise stay open.
   */
  async *batches(input: AsyncIterable<Buffer | string>): AsyncGenerator<RecordBatch> {
    const iterator = pieces(input)[Symbol.asyncIterator]();
    try {
      yield* this.batchesOf(iterator);
    } finally {
      await iterator.return(undefined);
    }
  }

  private async *batchesOf(iterator: AsyncIterator<Buffer>): AsyncGenerator<RecordBatch> {
    let text = '';
    let tail: Buffer = Buffer.alloc(0);
    let started = false;
    let final = false;
    while (!final) {
      const next = await iterator.next();
      if (next.done) {
        final = true;
        text += tail.toString('utf8');
        tail = Buffer.alloc(0);
      } else {
        const chunk = next.value;
        const data = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
        const cut = data.length - incompleteTail(data);
        text += data.toString('utf8', 0, cut);
        tail = Buffer.from(data.subarray(cut));
      }
      if (!started) {
        const firstLineEnd = text.indexOf('\n');
        if (!final && (text.length === 0 || (this.settings.fromLine === 2 && firstLineEnd === -1))) continue;
        // csv-parse's `bom` and `from_line` apply to the very start of the file (the `sep=` line
        // holds the byte-order mark, if any).
        if (this.settings.fromLine === 2) text = firstLineEnd === -1 ? '' : text.slice(firstLineEnd + 1);
        else if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        started = true;
      }
      let at: Scan = { pos: 0, quoteAt: text.indexOf('"'), handOver: false, full: true };
      while (at.full) {
        const lines: Array<string | undefined> = [];
        const batch: RecordBatch = Object.assign([], { lines });
        at = this.scanText(text, at, final, batch, lines);
        if (batch.length > 0) yield batch;
      }
      text = at.pos === 0 ? text : text.slice(at.pos);
      // A record longer than the limit is csv-parse's to refuse (or to read, if the count allows it).
      if (at.handOver || text.length > this.settings.maxRecordBytes) {
        yield* this.handOver(Buffer.concat([Buffer.from(text), tail]), iterator);
        return;
      }
    }
  }

  /**
   * Reads the complete records of `text` from `from.pos` into `batch`, at most {@link BATCH_RECORDS}:
   * returns where the unread text begins (the start of a record), whether the batch is full (there
   * may be more records), and whether csv-parse is to read from there.
   */
  private scanText(text: string, from: Scan, final: boolean, batch: string[][], lines: Array<string | undefined>): Scan {
    const { delimiter, cutPlainLines } = this;
    const length = text.length;
    let { pos, quoteAt } = from;
    while (pos < length) {
      if (batch.length === BATCH_RECORDS) return { pos, quoteAt, handOver: false, full: true };
      let lineEnd = text.indexOf('\n', pos);
      if (lineEnd === -1) {
        if (!final) break;
        lineEnd = length;
      }
      if (quoteAt === -1 || quoteAt > lineEnd) {
        // A line without a quote: its fields are what lies between delimiters. CRLF ends it too;
        // a carriage return anywhere else is text, as is one at the very end of the file.
        let end = lineEnd;
        if (lineEnd < length && end > pos && text.charCodeAt(end - 1) === CR) end -= 1;
        if (end > pos) {
          if (this.tooLarge(text, pos, end)) {
            return { pos, quoteAt, handOver: true, full: false };
          }
          batch.push(cutPlainLines ? splitLine(text, pos, end, delimiter) : (UNCUT as string[]));
          lines.push(text.slice(pos, end));
        }
        pos = lineEnd + 1;
        continue;
      }
      const scanned = this.scanQuotedRecord(text, pos, final);
      if (scanned === MORE) break;
      if (scanned === HAND_OVER || this.tooLarge(text, pos, scanned.next)) return { pos, quoteAt, handOver: true, full: false };
      batch.push(scanned.fields);
      lines.push(undefined);
      pos = scanned.next;
      if (quoteAt < pos) quoteAt = text.indexOf('"', pos);
    }
    return { pos: Math.min(pos, length), quoteAt, handOver: false, full: false };
  }

  /**
   * Reads the record at `start`, which has a quote: quoted fields (`""` inside is one quote) and
   * plain ones. A quote inside a plain field, or anything but a delimiter or a line end after a
   * closing quote, is csv-parse's to judge (relax_quotes is off: it fails the file).
   */
  private scanQuotedRecord(text: string, start: number, final: boolean): Scanned {
    const { delimiter, delimiterCode } = this;
    const length = text.length;
    const fields: string[] = [];
    let at = start;
    for (;;) {
      if (text.charCodeAt(at) === QUOTE) {
        let value = '';
        let from = at + 1;
        for (;;) {
          const quote = text.indexOf('"', from);
          if (quote === -1) return final ? HAND_OVER : MORE;
          if (quote + 1 === length && !final) return MORE;
          if (text.charCodeAt(quote + 1) === QUOTE) {
            value += text.slice(from, quote + 1);
            from = quote + 2;
            continue;
          }
          value += text.slice(from, quote);
          at = quote + 1;
          break;
        }
        fields.push(value);
        if (at === length) return { fields, next: at };
        const after = text.charCodeAt(at);
        if (after === delimiterCode) {
          at += 1;
          continue;
        }
        if (after === LF) return { fields, next: at + 1 };
        if (after !== CR) return HAND_OVER;
        if (at + 1 === length) return final ? HAND_OVER : MORE;
        return text.charCodeAt(at + 1) === LF ? { fields, next: at + 2 } : HAND_OVER;
      }
      const nextDelimiter = text.indexOf(delimiter, at);
      const lineEnd = text.indexOf('\n', at);
      let end = nextDelimiter === -1 ? lineEnd : lineEnd === -1 ? nextDelimiter : Math.min(nextDelimiter, lineEnd);
      if (end === -1) {
        if (!final) return MORE;
        end = length;
      }
      const quote = text.indexOf('"', at);
      if (quote !== -1 && quote < end) return HAND_OVER;
      if (end === nextDelimiter) {
        fields.push(text.slice(at, end));
        at = end + 1;
        continue;
      }
      let fieldEnd = end;
      if (end === lineEnd && fieldEnd > at && text.charCodeAt(fieldEnd - 1) === CR) fieldEnd -= 1;
      fields.push(text.slice(at, fieldEnd));
      return { fields, next: end === length ? end : end + 1 };
    }
  }

  /** Whether `text` from `start` to `end` is over the record size limit, in UTF-8 bytes (each unit is at most 3). */
  private tooLarge(text: string, start: number, end: number): boolean {
    const { maxRecordBytes } = this.settings;
    return (end - start) * 3 > maxRecordBytes && Buffer.byteLength(text.slice(start, end)) > maxRecordBytes;
  }

  /**
   * csv-parse reads `head` (the text from the start of a record) and the rest of `iterator`. Its
   * records are taken as it reads them (`on_record`), so every record before an error is given
   * before the error is thrown.
   */
  private async *handOver(head: Buffer, iterator: AsyncIterator<Buffer>): AsyncGenerator<string[][]> {
    this.handedOver = true;
    let batch: string[][] = [];
    const options = csvParseOptions(this.settings, false);
    const parser = parse({
      ...options,
      bom: false,
      from_line: 1,
      on_record: (record: string[]) => {
        batch.push(record);
        return null;
      },
    });
    let failure: unknown = null;
    parser.on('error', (error) => {
      failure ??= error;
    });
    parser.resume();
    const settled = (start: (done: () => void) => void) => new Promise<void>((resolve) => start(() => resolve()));
    let next: IteratorResult<Buffer> = head.length > 0 ? { done: false, value: head } : await iterator.next();
    for (;;) {
      const chunk = next.done ? null : next.value;
      if (chunk === null) await settled((done) => parser.end(done));
      else await settled((done) => parser.write(chunk, done));
      if (batch.length > 0) {
        const records = batch;
        batch = [];
        yield records;
      }
      if (failure) throw failure;
      if (chunk === null) return;
      next = await iterator.next();
    }
  }
}
