import type { ExportOptions } from './export-options.js';

/**
 * Names and media types of export files. The files live under `DATA_DIR/exports/<day>/`; the
 * job row keeps the path relative to DATA_DIR (`result_path`) until the retention removes it.
 */

/** The extension of an export file: `.csv`, `.ndjson`, plus `.gz` when gzipped. */
function exportExtension(options: Pick<ExportOptions, 'format' | 'gzip'>): string {
  return `.${options.format}${options.gzip ? '.gz' : ''}`;
}

/** Where the result of export job `jobId` is stored, relative to DATA_DIR. */
export function exportResultPath(jobId: string, options: Pick<ExportOptions, 'format' | 'gzip'>, now = new Date()): string {
  return `exports/${now.toISOString().slice(0, 10)}/${jobId}${exportExtension(options)}`;
}

/** The Content-Type of an export file. */
export function exportContentType(options: Pick<ExportOptions, 'format' | 'gzip'>): string {
  if (options.gzip) return 'application/gzip';
  return options.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson';
}

/** The download name: `catalog-<date the export finished>-<job id>.csv[.gz]`; `finishedAt` in ISO 8601, UTC. */
export function exportFileName(jobId: string, finishedAt: string, options: Pick<ExportOptions, 'format' | 'gzip'>): string {
  return `catalog-${finishedAt.slice(0, 10)}-${jobId}${exportExtension(options)}`;
}
