/** Helpers of the CSV reader (csv-records.ts) for the text it reads. */

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
