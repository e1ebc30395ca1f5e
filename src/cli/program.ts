import { Command, Option } from 'commander';
import { createApiClient } from './api-client.js';
import { loadCliConfig, DEFAULT_URL, type GlobalFlags } from './cli-config.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { cancelJobCommand, jobErrorsCommand, listJobsCommand, retryJobCommand, showJobCommand } from './commands/jobs.js';
import { usageCommand } from './commands/usage.js';
import type { ExitCode } from './exit-codes.js';
import { createResultOutput, type CommandContext } from './output.js';
import { createProgressOutput } from './progress.js';
import type { RunState } from './run-state.js';

/** What a run of the CLI reads and writes; main.ts passes the process's own. */
export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

const EXIT_CODES_HELP = `
Exit codes:
  0  done (a followed job completed)
  1  the job failed or was cancelled
  2  usage error (arguments, a malformed key, a file, a request the service refused as invalid,
     a redirect: --url is not the service's address)
  3  authentication or permission (no key, invalid key, missing scope)
  4  per-minute limit (after waiting out Retry-After) or monthly quota
  5  server or network error after retries
  129  stopped by SIGHUP (the terminal closed)
  130  interrupted (Ctrl+C); a job already accepted goes on on the service
  143  stopped by SIGTERM (a CI timeout, timeout(1), docker stop)

Environment: CATALOG_URL (default ${DEFAULT_URL}), CATALOG_API_KEY, CATALOG_RETRIES,
CATALOG_RETRY_BASE_MS, CATALOG_ANSWER_TIMEOUT_MS, CATALOG_EVENTS_IDLE_MS (see the README).`;

/** Wraps a command handler into a commander action; the handler gets the context of the global flags. */
type ActionOf = <A extends unknown[]>(
  handler: (context: CommandContext, ...args: A) => Promise<ExitCode>,
) => (...args: unknown[]) => Promise<void>;

function addImportCommand(program: Command, action: ActionOf): void {
  program
    .command('import')
    .description('upload a file, follow the import job, print its summary')
    .argument('<file>', 'CSV (or .xlsx) file')
    .addOption(new Option('--mode <mode>', 'upsert, create or update').choices(['upsert', 'create', 'update']))
    .addOption(new Option('--on-error <policy>', 'abort (nothing written) or skip (valid rows written)').choices(['abort', 'skip']))
    .option('--dry-run', 'validate and report only; write nothing')
    .option('--profile <name>', 'saved import profile (id or name)')
    .option('--delimiter <char>', 'column delimiter (default: detected)')
    .option('--no-wait', 'print the job id once uploaded; do not follow the job')
    .option('--errors-out <path>', 'where the failed rows go, replaced if it exists (default FILE.errors.csv, or FILE.errors-2.csv… if taken)')
    .action(action(importCommand));
}

function addExportCommand(program: Command, action: ActionOf): void {
  program
    .command('export')
    .description('start an export, follow it, download the file')
    .addOption(new Option('--format <format>').choices(['csv', 'ndjson']).default('csv'))
    .option('--gzip', 'gzip the file')
    .option('--fields <list>', 'comma-separated fields, in order')
    .option('--filter <key=value>', 'brand=…, category=… or updated_since=… (repeatable)', (value, all: string[]) => [...all, value], [])
    .requiredOption('-o, --output <path>', "the file to write (replaced if it exists), or a folder to write it into under the export's name")
    .action(action(exportCommand));
}

function addJobsCommands(program: Command, action: ActionOf): void {
  const jobs = program.command('jobs').description('list and manage jobs');
  jobs
    .command('list')
    .description('the newest jobs first')
    .addOption(new Option('--type <type>').choices(['import', 'export', 'enrichment']))
    .addOption(new Option('--status <status>').choices(['processing', 'completed', 'failed', 'cancelled']))
    .option('--limit <n>', 'how many', '20')
    .action(action(listJobsCommand));
  /** A `jobs` subcommand about one job, named by its id. */
  const aboutJob = (name: string, description: string) => jobs.command(name).argument('<id>').description(description);
  aboutJob('show', 'one job').action(action(showJobCommand));
  aboutJob('errors', "a job's row errors").option('--limit <n>', 'at most this many', '100').action(action(jobErrorsCommand));
  aboutJob('cancel', 'cancel a job').action(action(cancelJobCommand));
  aboutJob('retry', 'run a failed or cancelled job again, and follow it')
    .option('--no-wait', 'do not follow the job')
    .action(action(retryJobCommand));
}

/**
 * The `catalog` program. Each action stores its exit code in `run.exitCode` (and a job it starts in
 * `run.job`); failures are thrown as CliError (mapped by the caller) or, for bad arguments, as
 * commander's own errors.
 */
export function buildProgram(io: CliIo, version: string, run: RunState): Command {
  const program = new Command('catalog')
    .description('Bulk imports and exports of the catalog-jobs service, with progress instead of poll loops.')
    .version(version)
    .option('--url <url>', `service base URL (env CATALOG_URL, default ${DEFAULT_URL})`)
    .option('--key <key>', 'API key (env CATALOG_API_KEY); never printed')
    .option('--json', 'print machine-readable JSON results on stdout')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .addHelpText('after', EXIT_CODES_HELP);

  const action: ActionOf =
    <A extends unknown[]>(handler: (context: CommandContext, ...args: A) => Promise<ExitCode>) =>
    async (...args: unknown[]) => {
      // commander passes the arguments, the options, then the command itself.
      const command = args.at(-1) as Command;
      const flags = command.optsWithGlobals<GlobalFlags>();
      const progress = createProgressOutput(io.stderr);
      const config = loadCliConfig(flags);
      const client = createApiClient(config, (line) => progress.line(line));
      const output = createResultOutput(io.stdout, flags.json ?? false);
      const context = { client, progress, output, run, eventsIdleMs: config.eventsIdleMs, retryBaseMs: config.retryBaseMs };
      run.exitCode = await handler(context, ...(args.slice(0, -1) as A));
    };

  addImportCommand(program, action);
  addExportCommand(program, action);
  addJobsCommands(program, action);
  program.command('usage').description("this month's requests and the tier's limits").action(action(usageCommand));
  return program;
}
