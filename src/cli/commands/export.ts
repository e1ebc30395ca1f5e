import { randomUUID } from 'node:crypto';
import { checkOutputPath } from '../destination.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { followAcceptedJob } from '../follow-accepted-job.js';
import type { JobAccepted } from '../job-view.js';
import { elapsedSeconds, jobSummary, type CommandContext } from '../output.js';
import { downloadTo } from '../transfer.js';

/** The options of `catalog export`. */
export interface ExportOptions {
  format?: string;
  gzip?: boolean;
  fields?: string;
  filter: string[];
  output: string;
}

const FILTER_KEYS = ['brand', 'category', 'updated_since'];

/** `--filter brand=Acme --filter category=Pens` as the export's `filter` object. */
function parseFilters(filters: string[]): Record<string, string> | undefined {
  if (filters.length === 0) return undefined;
  const entries = filters.map((filter) => {
    const match = /^([a-z_]+)=(.*)$/.exec(filter);
    if (!match || !FILTER_KEYS.includes(match[1]!)) {
      throw new CliError(`--filter must be KEY=VALUE with KEY one of ${FILTER_KEYS.join(', ')}; got "${filter}".`, EXIT.usage);
    }
    return [match[1]!, match[2]!] as const;
  });
  return Object.fromEntries(entries);
}

/**
 * `catalog export -o PATH`: starts an export, follows it, downloads the file with a bar. PATH is
 * the file (replaced if it exists) or a folder, which gets the file under the service's name for it.
 */
export async function exportCommand(context: CommandContext, options: ExportOptions): Promise<ExitCode> {
  const startedAt = Date.now();
  const format = options.format ?? 'csv';
  // Checked before the export starts: a folder that is missing is found now, not after the job ran.
  const fallbackName = `catalog-export.${format}${options.gzip ? '.gz' : ''}`;
  const target = await checkOutputPath(options.output, '-o', 'into', fallbackName);
  const fields = options.fields?.split(',').map((field) => field.trim()).filter(Boolean);
  const body = { format, gzip: options.gzip ?? false, fields, filter: parseFilters(options.filter) };
  // One key for every attempt: a retried request returns the job the first one started.
  const headers = { 'idempotency-key': randomUUID() };
  const accepted = await context.client.json<JobAccepted>('POST', '/v1/exports', { json: body, headers });
  const job = await followAcceptedJob(context, accepted.id, { kind: 'Export', label: 'export' });
  if (job.status !== 'completed' || !job.links.result) {
    context.output.result({ job, elapsed_seconds: elapsedSeconds(startedAt) }, jobSummary(job, elapsedSeconds(startedAt)));
    return EXIT.jobFailed;
  }
  const { bytes, file } = await downloadTo(context.client, context.progress, job.links.result, target, context.run.partialFiles);
  const seconds = elapsedSeconds(startedAt);
  const lines = [...jobSummary(job, seconds), `Wrote ${bytes} bytes to ${file}`];
  context.output.result({ job, file, bytes, elapsed_seconds: seconds }, lines);
  return EXIT.done;
}
