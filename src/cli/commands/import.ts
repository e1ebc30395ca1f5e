import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { checkOutputPath, isSameFile, reserveFreePath } from '../destination.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { followAcceptedJob } from '../follow-accepted-job.js';
import { acceptedResult, type JobAccepted, type JobView } from '../job-view.js';
import { elapsedSeconds, jobSummary, type CommandContext } from '../output.js';
import { downloadTo, uploadFile } from '../transfer.js';

/** The options of `catalog import` (commander turns --no-wait into `wait: false`). */
export interface ImportOptions {
  mode?: string;
  onError?: string;
  dryRun?: boolean;
  profile?: string;
  delimiter?: string;
  wait: boolean;
  errorsOut?: string;
}

/** Problems of a failed import shown on the terminal; the rest is in the errors file. */
const PROBLEMS_SHOWN = 5;

interface RowError {
  row: number;
  field: string | null;
  code: string;
  message: string;
}

/** "row 12, ean: The EAN … (INVALID_EAN)" for the first few problems of a job. */
async function firstProblems(context: CommandContext, job: JobView): Promise<string[]> {
  const page = await context.client.json<{ data: RowError[] }>('GET', job.links.errors, { query: { limit: String(PROBLEMS_SHOWN) } });
  return page.data.map((error) => `  row ${error.row}${error.field ? `, ${error.field}` : ''}: ${error.message} (${error.code})`);
}

/**
 * Which report holds the rows to fix and import again, and what to say of it. When nothing was
 * written (the job failed, or a dry run), every row of the file is to be imported again: rows.csv,
 * where the service offers it. When the good rows were written (on_error=skip), only the failed
 * rows are: errors.csv, so that importing the fixed file does not write the good rows once more.
 */
function failedRowsReport(job: JobView): { link: string; holds: string } {
  const goodRowsWritten = job.status === 'completed' && job.options.dry_run !== true;
  if (!goodRowsWritten && job.links.rows_csv) {
    return { link: job.links.rows_csv, holds: 'every row of the file, the failed ones with their problems (no row was imported)' };
  }
  const others = goodRowsWritten ? ' (the other rows were imported)' : '';
  const failed = job.progress.rows_failed === 1 ? '1 failed row' : `${job.progress.rows_failed} failed rows`;
  return { link: job.links.errors_csv, holds: `only the ${failed}, with their problems${others}` };
}

/** Numbered names tried for the failed rows when FILE.errors.csv is taken: FILE.errors-2.csv … -99. */
const NUMBERED_ERRORS_FILES = 99;

/**
 * Where the failed rows of `file` go when --errors-out names no file: FILE.errors.csv, or when
 * something is there already (the rows of an earlier run, perhaps being fixed, or another run's at
 * this moment) the first free FILE.errors-N.csv. The name is taken at once by creating the file
 * (see reserveFreePath): a name the CLI picks never replaces a file of the user's or another run's.
 */
async function reserveDefaultErrorsPath(file: string): Promise<string> {
  const numbered = Array.from({ length: NUMBERED_ERRORS_FILES - 1 }, (_, index) => `${file}.errors-${index + 2}.csv`);
  const free = await reserveFreePath([`${file}.errors.csv`, ...numbered]);
  if (free === null) throw new CliError(`${file}.errors.csv and ${file}.errors-2.csv to -${NUMBERED_ERRORS_FILES}.csv all exist; pass --errors-out.`, EXIT.usage);
  return free;
}

/**
 * Downloads `link` to `errorsOut`, or when that is not given to the default name it reserves. A
 * reserved file is empty until the download replaces it: when the download fails, or a signal stops
 * the CLI (it is in the run's `partialFiles` meanwhile), it is removed, so that no empty file
 * keeps the name from the next run.
 */
async function saveFailedRows(context: CommandContext, link: string, file: string, errorsOut: string | undefined): Promise<string> {
  if (errorsOut !== undefined) {
    await downloadTo(context.client, null, link, { file: errorsOut }, context.run.partialFiles);
    return errorsOut;
  }
  const reserved = await reserveDefaultErrorsPath(file);
  context.run.partialFiles.add(reserved);
  try {
    await downloadTo(context.client, null, link, { file: reserved }, context.run.partialFiles);
    return reserved;
  } catch (error) {
    await rm(reserved, { force: true }).catch(() => undefined);
    throw error;
  } finally {
    context.run.partialFiles.delete(reserved);
  }
}

/**
 * The first problems and the failed rows saved to `errorsOut` (or the default beside `file`), as
 * lines of the result. The job has ended whatever happens here, so a failure is a warning on
 * stderr (with where the rows can be had) and never replaces the job's summary and exit code.
 */
async function reportFailedRows(
  context: CommandContext,
  job: JobView,
  file: string,
  errorsOut: string | undefined,
): Promise<{ lines: string[]; errorsFile: string | null }> {
  const lines: string[] = [];
  const warn = (error: unknown, then: string) => {
    if (!(error instanceof CliError)) throw error;
    context.progress.line(`catalog: warning: ${error.message.replace(/\.$/, '')}. ${then}`);
  };
  try {
    lines.push(...(await firstProblems(context, job)));
  } catch (error) {
    warn(error, `See: catalog jobs errors ${job.id}`);
  }
  const report = failedRowsReport(job);
  try {
    const destination = await saveFailedRows(context, report.link, file, errorsOut);
    const kept = errorsOut === undefined && destination !== `${file}.errors.csv` ? ` (${file}.errors.csv exists and was left as it was)` : '';
    lines.push(`Failed rows written to ${destination}${kept}: ${report.holds}; fix them and import that file again.`);
    return { lines, errorsFile: destination };
  } catch (error) {
    warn(error, `The failed rows can be downloaded from ${context.client.baseUrl}${report.link}`);
    return { lines, errorsFile: null };
  }
}

/**
 * A destination named by --errors-out must be writable before anything is uploaded: a folder that
 * is missing or read-only is the user's to fix, and is found out now rather than after the job.
 * It is written over when it exists (the user named it), but never when it is the file imported.
 */
async function checkErrorsOut(path: string, file: string): Promise<void> {
  await checkOutputPath(path, '--errors-out', 'refuse');
  if (await isSameFile(path, file)) {
    throw new CliError(`--errors-out ${path}: is the file being imported; the failed rows would replace it. Name another file.`, EXIT.usage);
  }
}

/** `catalog import FILE`: uploads, follows the job, prints the summary; on failure saves the failed rows. */
export async function importCommand(context: CommandContext, file: string, options: ImportOptions): Promise<ExitCode> {
  const startedAt = Date.now();
  const query = {
    mode: options.mode,
    on_error: options.onError,
    dry_run: options.dryRun ? 'true' : undefined,
    delimiter: options.delimiter,
    profile: options.profile,
  };
  if (options.wait && options.errorsOut !== undefined) await checkErrorsOut(options.errorsOut, file);
  // One key for every attempt: a retried upload returns the job the first one started.
  const headers = { 'idempotency-key': randomUUID() };
  const accepted = await uploadFile<JobAccepted>(context.client, context.progress, file, { path: '/v1/imports', query, headers });
  if (!options.wait) {
    context.output.result(acceptedResult(accepted), [`Import accepted: job ${accepted.id}`]);
    return EXIT.done;
  }
  const job = await followAcceptedJob(context, accepted.id, { kind: 'Import', label: 'import' });
  const seconds = elapsedSeconds(startedAt);
  const lines = jobSummary(job, seconds);
  let errorsFile: string | null = null;
  if (job.progress.rows_failed > 0 || job.error_code === 'IMPORT_FAILED') {
    const failed = await reportFailedRows(context, job, file, options.errorsOut);
    lines.push(...failed.lines);
    errorsFile = failed.errorsFile;
  }
  context.output.result({ job, errors_file: errorsFile, elapsed_seconds: seconds }, lines);
  return job.status === 'completed' ? EXIT.done : EXIT.jobFailed;
}
