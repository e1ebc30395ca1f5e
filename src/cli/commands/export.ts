import { randomUUID } from 'node:crypto';
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

/** `catalog export -o PATH`: starts an export, follows it, downloads the file with a bar. */
export async function exportCommand(context: CommandContext, options: ExportOptions): Promise<ExitCode> {
  const startedAt = Date.now();
  const fields = options.fields?.split(',').map((field) => field.trim()).filter(Boolean);
  const body = { format: options.format ?? 'csv', gzip: options.gzip ?? false, fields, filter: parseFilters(options.filter) };
  // One key for every attempt: a retried request returns the job the first one started.
  const headers = { 'idempotency-key': randomUUID() };
  const accepted = await context.client.json<JobAccepted>('POST', '/v1/exports', { json: body, headers });
  const job = await followAcceptedJob(context, accepted.id, { kind: 'Export', label: 'export' });
  if (job.status !== 'completed' || !job.links.result) {
    context.output.result({ job, elapsed_seconds: elapsedSeconds(startedAt) }, jobSummary(job, elapsedSeconds(startedAt)));
    return EXIT.jobFailed;
  }
  const bytes = await downloadTo(context.client, context.progress, job.links.result, options.output);
  const seconds = elapsedSeconds(startedAt);
  const lines = [...jobSummary(job, seconds), `Wrote ${bytes} bytes to ${options.output}`];
  context.output.result({ job, file: options.output, bytes, elapsed_seconds: seconds }, lines);
  return EXIT.done;
}
