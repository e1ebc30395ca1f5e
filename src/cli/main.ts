import { readFileSync, rmSync } from 'node:fs';
import { CommanderError } from 'commander';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { buildProgram, type CliIo } from './program.js';
import { startedJobNotice, type RunState } from './run-state.js';

/** The package version (package.json sits two levels up from both src/cli and dist/cli). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * Says why the command stopped: on stderr, and as JSON on stdout with --json. A job the run
 * started is named, with how to check it: it goes on without the CLI.
 */
function report(io: CliIo, json: boolean, error: CliError, run: RunState): void {
  const extras = [error.errorCode, error.requestId && `request ${error.requestId}`].filter(Boolean).join(', ');
  io.stderr.write(`catalog: ${error.message}${extras ? ` (${extras})` : ''}\n`);
  if (run.job) io.stderr.write(`catalog: ${startedJobNotice(run.job)}\n`);
  if (json) reportJson(io, error, run);
}

/** The failure as the JSON document --json prints on stdout. */
function reportJson(io: CliIo, error: CliError, run: RunState): void {
  const body = {
    error: error.message,
    error_code: error.errorCode,
    request_id: error.requestId,
    job_id: run.job?.id ?? null,
    exit_code: error.exitCode,
  };
  io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
}

/**
 * A parse error of commander's as a usage error. Commander has already said it on stderr (its
 * message, or the help of a command named without its subcommand), so only the JSON is left.
 */
function usageErrorOf(error: CommanderError): CliError {
  const message = error.code === 'commander.help' ? 'A command is missing; see --help.' : error.message.replace(/^error: /, '');
  return new CliError(message, EXIT.usage);
}

/** Runs the CLI on `argv` (process.argv form), keeping its state in `run`, and returns its exit code. */
async function runCli(argv: string[], io: CliIo, run: RunState): Promise<ExitCode> {
  const program = buildProgram(io, packageVersion(), run);
  try {
    await program.parseAsync(argv);
    return run.exitCode;
  } catch (error) {
    // Help and --version end through exitOverride with exit code 0; every other parse error is a usage error.
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.done;
      if (argv.includes('--json')) reportJson(io, usageErrorOf(error), run);
      return EXIT.usage;
    }
    const failure =
      error instanceof CliError ? error : new CliError(`Unexpected error: ${(error as Error).message}`, EXIT.server);
    report(io, argv.includes('--json'), failure, run);
    return failure.exitCode;
  }
}

const io: CliIo = { stdout: process.stdout, stderr: process.stderr };
const run: RunState = { exitCode: EXIT.done, job: null, partialFiles: new Set() };

/**
 * The signals that stop a run, with what the run says and its exit code. SIGTERM is how a CI
 * timeout, `timeout` or `docker stop` ends a command, SIGHUP a closed terminal: each is a stop as
 * Ctrl+C is, not a crash that leaves half files and says nothing of a job that goes on.
 */
const STOPPING_SIGNALS = [
  { signal: 'SIGINT', message: 'Interrupted.', exitCode: EXIT.interrupted },
  { signal: 'SIGTERM', message: 'Interrupted by SIGTERM.', exitCode: EXIT.terminated },
  { signal: 'SIGHUP', message: 'Interrupted by SIGHUP (its terminal closed).', exitCode: EXIT.hungUp },
] as const;

// On any of them: give the terminal its cursor back (a bar hides it), remove a download's .part
// file (a half file a user would find and take for something), name a job that goes on without
// the CLI, and stop like a shell-interrupted command.
for (const { signal, message, exitCode } of STOPPING_SIGNALS) {
  process.once(signal, () => {
    if (process.stderr.isTTY) process.stderr.write('\u001b[?25h\n');
    for (const file of run.partialFiles) {
      try {
        rmSync(file, { force: true });
      } catch {
        // Stopping is what was asked for; a file that cannot be removed must not prevent it.
      }
    }
    report(io, process.argv.includes('--json'), new CliError(message, exitCode), run);
    process.exit(exitCode);
  });
}
// A reader that stopped early (`catalog jobs errors ID | head`) closes the pipe: the rest of the
// output is not wanted, which is an ordinary end, not a failure with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT.done);
});
process.exitCode = await runCli(process.argv, io, run);
