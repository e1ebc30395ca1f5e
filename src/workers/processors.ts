import type { JobType } from '../shared/jobs/job-row.js';
import { createEnrichmentProcessor } from './enrich/enrichment-processor.js';
import { runExport } from './export/run-export.js';
import { runImport } from './import/run-import.js';
import type { JobProcessor, WorkerDeps } from './job-processor.js';
import type { CatchUpRunner } from './search/catch-up-runner.js';

/**
 * The processor of each job type that this process runs; a type without one has no worker.
 * `searchCatchUp` brings product search up to date after an import has ended.
 */
export function createProcessors(deps: WorkerDeps, searchCatchUp: CatchUpRunner): Partial<Record<JobType, JobProcessor>> {
  return {
    import: ({ jobId, signal, claim }) =>
      runImport(
        {
          db: deps.db,
          uploads: deps.uploads,
          logger: deps.logger,
          maxRecordBytes: deps.config.IMPORT_MAX_RECORD_BYTES,
          maxXlsxUncompressedBytes: deps.config.IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES,
          searchCatchUp,
          storeLocation: deps.config.STORAGE_URL ?? deps.config.DATA_DIR,
        },
        jobId,
        signal,
        claim,
      ),
    enrichment: createEnrichmentProcessor(deps),
    export: ({ jobId, signal, claim }) =>
      runExport(
        {
          db: deps.db,
          files: deps.uploads,
          logger: deps.logger,
          storageLimit: { maxBytes: deps.config.EXPORT_STORAGE_BYTES_PER_ACCOUNT, retentionDays: deps.config.EXPORT_RETENTION_DAYS },
        },
        jobId,
        signal,
        claim?.token,
      ),
  };
}
