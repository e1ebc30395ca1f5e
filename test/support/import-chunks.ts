import type { ImportOptions } from '../../src/shared/jobs/import-options.js';
import { ChunkBuilder } from '../../src/workers/import/chunk-builder.js';
import type { Chunk } from '../../src/workers/import/import-chunk.js';
import type { ValidRow } from '../../src/workers/import/row-reader.js';

/** The options of an upsert import of a CSV file, as a job row holds them. */
export const UPSERT_OPTIONS: ImportOptions = {
  mode: 'upsert', on_error: 'skip', delimiter: null, dry_run: false, encoding: null,
  decimal_separator: '.', sheet: null, columns: null, profile: null,
};

/** A chunk of `rows` (row numbers from 2), built as a re-import into a filled catalog builds it. */
export function reimportChunk(accountId: string, rows: ValidRow[]): Chunk {
  const builder = new ChunkBuilder({ accountId, options: UPSERT_OPTIONS, catalogWasEmpty: false, fileBytes: 0 }, null);
  rows.forEach((row, i) => builder.add(i + 2, row, []));
  return builder.take()!.chunk;
}
