import type { ImportOptions } from '../shared/jobs/import-options.js';
import type { UploadHeader } from '../shared/jobs/upload-header-queries.js';
import type { FileStore } from '../shared/storage/file-store.js';
import { isMissingFile, storageUnavailable } from '../shared/storage/storage-errors.js';
import { storedUploadRecords, type RecordLimits } from '../workers/import/stored-records.js';

/**
 * The header of an import's stored upload, read from the file as the import will read it: for
 * errors.csv while the import waits in its queue, before its worker has recorded the header, so
 * the download starts with the uploaded columns (API.md §4) as it will once the import runs. Only
 * the first record is read; the file is closed at once. An upload no longer stored has no header
 * to give (the error columns alone); a storage that fails is a 503 to try again.
 */
export async function queuedUploadHeader(uploads: FileStore, path: string, options: ImportOptions, limits: RecordLimits): Promise<UploadHeader> {
  try {
    const { records, reading } = await storedUploadRecords(uploads, path, options, limits);
    try {
      const first = await records.next();
      return { columns: first.done ? [] : first.value, read: !first.done, reading };
    } finally {
      await records.return(undefined);
    }
  } catch (error) {
    if (isMissingFile(error)) return { columns: [], read: false, reading: null };
    throw storageUnavailable(error);
  }
}
