import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { UploadReading } from '../../shared/jobs/upload-reading.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { describeCsvUpload, uploadRecords } from './csv-source.js';
import { FileProblem } from './file-problem.js';

/** The limits the import read the upload under; reading it again uses the same. */
export interface RecordLimits {
  maxRecordBytes: number;
  maxXlsxUncompressedBytes: number;
}

/** An upload's records read again, and how its CSV text was read (null: a workbook). */
export interface StoredRecords {
  records: AsyncGenerator<string[]>;
  reading: UploadReading | null;
}

/**
 * The records of a stored upload, header first, read again as the import read them: a CSV file
 * with its decoding, `sep=` line and delimiter, a workbook (sent as one, or a zip archive) through
 * the workbook reader with the job's sheet, so record n is data row n of the report. Both stop
 * quietly where the import found a file-level problem: the report says what it was. Rejects when
 * the upload is no longer stored, and the records reject when it cannot be read to its end.
 */
export async function storedUploadRecords(
  uploads: FileStore,
  path: string,
  options: ImportOptions,
  limits: RecordLimits,
): Promise<StoredRecords> {
  const source = await describeCsvUpload(uploads, path, options);
  if (options.format !== 'xlsx' && source.workbook !== 'zip') {
    const reading = { delimiter: source.delimiter, encoding: source.encoding };
    return { records: uploadRecords(source, limits.maxRecordBytes), reading };
  }
  return { records: untilProblem(await storedWorkbookRecords(uploads, path, options, limits)), reading: null };
}

/**
 * The records of the job's sheet of a stored workbook, for the import and for reading it again.
 * The workbook reader (and its zip and XML libraries) is loaded by the first .xlsx import.
 */
export async function storedWorkbookRecords(
  uploads: FileStore,
  path: string,
  options: ImportOptions,
  limits: RecordLimits,
  signal?: AbortSignal,
): Promise<AsyncGenerator<string[]>> {
  const { workbookRecords } = await import('./xlsx/workbook-records.js');
  return workbookRecords({
    open: () => uploads.open(path),
    sheet: options.sheet ?? undefined,
    maxUncompressedBytes: limits.maxXlsxUncompressedBytes,
    maxRecordBytes: limits.maxRecordBytes,
    signal,
  });
}

/**
 * The records until the workbook's first file-level problem: the import stopped at the same place
 * (the report holds the problem). A failure to read the file is passed on.
 */
async function* untilProblem(records: AsyncGenerator<string[]>): AsyncGenerator<string[]> {
  try {
    yield* records;
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
  }
}
