import type { Db } from '../db/pool.js';
import type { ImportEncoding } from './import-options.js';
import type { UploadReading } from './upload-reading.js';

/** A job's uploaded header as it was uploaded (empty when it has none) and how its CSV was read. */
export interface UploadHeader {
  columns: string[];
  /**
   * Whether the import has read its header yet: false while it waits in its queue, and for good
   * when the file had no header record (EMPTY_FILE) or the job is no import.
   */
  read: boolean;
  /** Null for a workbook, or a job whose header was never read. */
  reading: UploadReading | null;
}

/** The header of a job's upload and how it was read, for errors.csv. */
export async function findUploadHeader(db: Db, id: string): Promise<UploadHeader> {
  const { rows } = await db.query<{ input_columns: string[] | null; input_delimiter: string | null; input_encoding: ImportEncoding | null }>(
    'SELECT input_columns, input_delimiter, input_encoding FROM jobs WHERE id = $1',
    [id],
  );
  const row = rows[0];
  const reading = row?.input_delimiter && row.input_encoding ? { delimiter: row.input_delimiter, encoding: row.input_encoding } : null;
  return { columns: row?.input_columns ?? [], read: Array.isArray(row?.input_columns), reading };
}

/** Records the header of the uploaded file and how it was read (null: a workbook), for errors.csv. */
export async function saveUploadHeader(db: Db, id: string, columns: string[], reading: UploadReading | null): Promise<void> {
  await db.query('UPDATE jobs SET input_columns = $2, input_delimiter = $3, input_encoding = $4 WHERE id = $1', [
    id,
    columns,
    reading?.delimiter ?? null,
    reading?.encoding ?? null,
  ]);
}
