import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** One step of a README walk-through: a shell block and the output printed under it ('' if none). */
export interface ReadmeStep {
  commands: string;
  output: string;
}

/** The ```sh blocks of a markdown text, each with the ```text block that follows it, if any. */
export function readmeSteps(markdown: string): ReadmeStep[] {
  const steps: ReadmeStep[] = [];
  for (const block of markdown.matchAll(/```(sh|text)\n([\s\S]*?)```/g)) {
    if (block[1] === 'sh') steps.push({ commands: block[2]!, output: '' });
    else if (steps.length > 0) steps.at(-1)!.output = block[2]!;
  }
  return steps;
}

const MARK = '@@step-output-boundary@@';

/**
 * Runs the steps in one bash process (variables carry from step to step) in `cwd` with `env`,
 * and returns what each step printed.
 */
export async function runReadmeSteps(steps: ReadmeStep[], cwd: string, env: Record<string, string>): Promise<string[]> {
  const script = ['set -e', ...steps.flatMap((step) => [step.commands, `echo '${MARK}'`])].join('\n');
  const { stdout } = await promisify(execFile)('bash', ['-c', script], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 60_000,
  });
  return stdout.split(`${MARK}\n`).slice(0, steps.length);
}

/**
 * The part of a markdown text under `heading` (a whole heading line such as `## Products API`), up
 * to the next heading of the same or a higher level.
 */
export function readmeSection(markdown: string, heading: string): string {
  const start = markdown.split('\n').indexOf(heading);
  if (start < 0) throw new Error(`README.md has no heading '${heading}'`);
  const level = /^#+/.exec(heading)![0].length;
  const lines = markdown.split('\n').slice(start);
  let fenced = false;
  const end = lines.findIndex((line, index) => {
    // A shell comment in a code block is not a heading.
    if (line.startsWith('```')) fenced = !fenced;
    return index > 0 && !fenced && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level;
  });
  return lines.slice(0, end < 0 ? undefined : end).join('\n');
}

/** Whether shell text ends inside a quoted string (a `-d '{…}'` body over several lines). */
function quoteOpen(text: string): boolean {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quote === "'") {
      if (char === "'") quote = null;
    } else if (quote === '"') {
      if (char === '\\') i += 1;
      else if (char === '"') quote = null;
    } else if (char === '\\') {
      i += 1;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      // A comment runs to the end of its line.
      while (i + 1 < text.length && text[i + 1] !== '\n') i += 1;
    }
  }
  return quote !== null;
}

/** One command of a shell block, with the answer printed after it as `# → …` (null if none). */
export interface ReadmeCommand {
  text: string;
  expected: string | null;
}

/**
 * Splits a shell block into commands: a line, with the lines it continues onto (a trailing `\`, a
 * here-document). A `# → …` comment after a command (or at the end of its last line) is what it
 * prints; the comment lines indented below it continue it. Other comments are not checked.
 */
export function readmeCommands(block: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const lines = block.split('\n');
  let expecting = false;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    const comment = /^\s*#(.*)$/.exec(line);
    if (comment) {
      const answer = /^\s*→\s?(.*)$/.exec(comment[1]!);
      if (answer && commands.length > 0) commands.at(-1)!.expected = answer[1]!;
      else if (expecting && /^\s{2,}\S/.test(comment[1]!)) commands.at(-1)!.expected += `\n${comment[1]!.trim()}`;
      expecting = Boolean(answer && commands.length > 0) || (expecting && /^\s{2,}\S/.test(comment[1]!));
      continue;
    }
    expecting = false;
    if (line.trim() === '') continue;
    const text = [line];
    const hereDocument = /<<-?'?(\w+)'?/.exec(line)?.[1];
    if (hereDocument) {
      while (i + 1 < lines.length && lines[i]!.trim() !== hereDocument) text.push(lines[(i += 1)]!);
    } else {
      while ((text.at(-1)!.endsWith('\\') || quoteOpen(text.join('\n'))) && i + 1 < lines.length) text.push(lines[(i += 1)]!);
    }
    const trailing = /\s#\s*→\s?(.*)$/.exec(text.at(-1)!);
    commands.push({ text: text.join('\n'), expected: trailing ? trailing[1]! : null });
    expecting = trailing !== null;
  }
  return commands;
}

/** What one command did: its exit status, stdout, and the HTTP statuses of its curl requests. */
export interface CommandRun {
  command: ReadmeCommand;
  status: number;
  stdout: string;
  statuses: number[];
}

const STEP = '@@readme-command';

/**
 * Runs `commands` in order in one bash process (variables carry over) in `cwd`, with `env` and
 * the shell functions of `preamble`, and returns what each did. `curl` is wrapped to report each
 * answer's status on stderr (a `-w` in the command wins over it), so an expectation can check it.
 */
export async function runReadmeCommands(
  commands: ReadmeCommand[],
  options: { cwd: string; env: Record<string, string>; preamble?: string; timeoutMs?: number },
): Promise<CommandRun[]> {
  const script = [
    `curl() { command curl -w '%{stderr}${STEP}-status %{http_code}\\n' "$@"; }`,
    options.preamble ?? '',
    ...commands.map((command, index) =>
      [command.text, `__status=$?; printf '\\n${STEP} ${index} %d\\n' "$__status"; printf '\\n${STEP}\\n' >&2; (exit "$__status")`].join('\n'),
    ),
    'exit 0',
  ].join('\n');
  const { stdout, stderr } = await promisify(execFile)('bash', ['-c', script], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env },
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const outputs = stdout.split(new RegExp(`\\n${STEP} \\d+ (\\d+)\\n`));
  const errors = stderr.split(`\n${STEP}\n`);
  return commands.map((command, index) => ({
    command,
    stdout: outputs[index * 2] ?? '',
    status: Number(outputs[index * 2 + 1] ?? -1),
    statuses: [...(errors[index] ?? '').matchAll(new RegExp(`${STEP}-status (\\d{3})`, 'g'))].map((match) => Number(match[1])),
  }));
}
