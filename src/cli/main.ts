import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { buildProgram, type CliIo } from './program.js';

/** The package version (package.json sits two levels up from both src/cli and dist/cli). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** Says why the command stopped: on stderr, and as JSON on stdout with --json. */
function report(io: CliIo, json: boolean, error: CliError): void {
  const extras = [error.errorCode, error.requestId && `request ${error.requestId}`].filter(Boolean).join(', ');
  io.stderr.write(`catalog: ${error.message}${extras ? ` (${extras})` : ''}\n`);
  if (json) {
    const body = { error: error.message, error_code: error.errorCode, request_id: error.requestId, exit_code: error.exitCode };
    io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  }
}

/** Runs the CLI on `argv` (process.argv form) and returns its exit code. */
async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  const result: { exitCode: ExitCode } = { exitCode: EXIT.done };
  const program = buildProgram(io, packageVersion(), result);
  try {
    await program.parseAsync(argv);
    return result.exitCode;
  } catch (error) {
    // Help and --version end through exitOverride with exit code 0; every other parse error is a usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.done : EXIT.usage;
    const failure =
      error instanceof CliError ? error : new CliError(`Unexpected error: ${(error as Error).message}`, EXIT.server);
    report(io, argv.includes('--json'), failure);
    return failure.exitCode;
  }
}

// Ctrl+C: give the terminal its cursor back (a bar hides it) and stop like a shell-interrupted command.
process.once('SIGINT', () => {
  if (process.stderr.isTTY) process.stderr.write('\u001b[?25h\n');
  process.exit(130);
});
process.exitCode = await runCli(process.argv, { stdout: process.stdout, stderr: process.stderr });
