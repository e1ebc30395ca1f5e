const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * Follows csv-parse's line count through the text it reads, next to the file's own lines.
 *
 * csv-parse starts a line after every carriage return and every line feed it reads, except the LF
 * of a CRLF that ends a record: a CRLF inside a quoted cell is two lines to it, a lone CR one. A
 * line of the file is what an editor shows and what the input guard names for invalid UTF-8: a
 * line feed ends it (a CRLF is one line end), a carriage return alone does not (the CSV reader
 * reads one as text too).
 *
 * Quotes are followed by parity: up to csv-parse's first error its quotes pair up that way
 * (relax_quotes is off, so a quote stands only at a cell's edges or doubled inside it).
 */
export class ParserLines {
  /** csv-parse's line of the next byte. */
  parserLine = 1;
  /** The file's line of the next byte. */
  fileLine = 1;
  private quoted = false;
  /** The last byte was a carriage return outside quotes: a LF after it ends a record with it. */
  private recordCr = false;

  read(byte: number): void {
    if (byte === QUOTE) this.quoted = !this.quoted;
    else if (byte === LF) {
      this.fileLine += 1;
      if (!this.recordCr) this.parserLine += 1;
    } else if (byte === CR) this.parserLine += 1;
    this.recordCr = byte === CR && !this.quoted;
  }

  /** Whether the next byte is on csv-parse's line `parserLine` or a later one (the LF of a record's CRLF is on the CR's). */
  reached(parserLine: number): boolean {
    return this.parserLine >= parserLine && !this.recordCr;
  }
}

/**
 * The file's line of what csv-parse, reading `text` (the UTF-8 bytes it was given), put on its
 * line `parserLine`. With `nextRecord`, the first line after that one holding more than blanks:
 * where the record after a record that ends on `parserLine` begins (0: no record ended).
 */
export async function fileLineOf(text: AsyncIterable<Buffer>, parserLine: number, nextRecord = false): Promise<number> {
  const lines = new ParserLines();
  let found = parserLine === 0 ? 0 : null;
  for await (const chunk of text) {
    for (const byte of chunk) {
      if (found === null && lines.reached(parserLine)) {
        if (!nextRecord) return lines.fileLine;
        found = lines.fileLine;
      }
      if (found !== null && lines.fileLine > found && byte !== CR && byte !== LF && byte !== SPACE && byte !== TAB) return lines.fileLine;
      lines.read(byte);
    }
  }
  return found === null ? lines.fileLine : found + 1;
}
