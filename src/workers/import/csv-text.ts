import type { Options } from 'csv-parse';

/** Helpers of the CSV reader (csv-records.ts) for the text it reads, and the settings it shares with csv-parse. */

/**
 * Most bytes of the upload decoded into one string. A string over V8's largest regular object
 * (128 KiB) is allocated in the large-object space, page by page, and freed only by a full
 * collection: decoding a 1 MiB piece costs twenty times as much as the same bytes in 32 KiB ones.
 */
const PIECE_BYTES = 32 * 1024;

/** `input` in pieces of at most {@link PIECE_BYTES} (views of its buffers, not copies). */
export async function* pieces(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let at = 0; at < bytes.length; at += PIECE_BYTES) yield bytes.subarray(at, at + PIECE_BYTES);
  }
}

/**
 * The fields of the quote-free line from `start` to `end` of `text`: each cut straight out of
 * `text` (a `split` of the line would first cut out the line, then copy it whole).
 */
export function splitLine(text: string, start: number, end: number, delimiter: string): string[] {
  const fields: string[] = [];
  let at = start;
  for (;;) {
    const next = text.indexOf(delimiter, at);
    if (next === -1 || next >= end) {
      fields.push(text.slice(at, end));
      return fields;
    }
    fields.push(text.slice(at, next));
    at = next + 1;
  }
}

/** How an upload's CSV text is split into records: the same settings for both readers below. */
export interface CsvReadSettings {
  delimiter: string;
  /** 2 when the first line is Excel's `sep=` hint, which is not a record. */
  fromLine: number;
  maxRecordBytes: number;
}

/** csv-parse's options for {@link CsvReadSettings}; `info` adds each record's line numbers. */
export function csvParseOptions(settings: CsvReadSettings, info: boolean): Options {
  return {
    bom: true,
    delimiter: settings.delimiter,
    // Both line endings in one file (a file edited on two systems): a CRLF line must not leave a
    // stray carriage return behind as a cell or a one-cell row.
    record_delimiter: ['\r\n', '\n'],
    relax_quotes: false,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: settings.maxRecordBytes,
    from_line: settings.fromLine,
    info,
  };
}
