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
