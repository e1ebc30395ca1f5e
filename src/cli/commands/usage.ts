import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CommandContext } from '../output.js';

/** GET /v1/usage as the CLI reads it. */
interface Usage {
  tier: string;
  month: string;
  used: number;
  limit: number | null;
  per_minute_limit: number;
  resets_at: string;
}

/** `catalog usage`: this month's requests against the tier's limits. */
export async function usageCommand(context: CommandContext): Promise<ExitCode> {
  const usage = await context.client.json<Usage>('GET', '/v1/usage');
  const lines = [
    `${usage.tier} tier, ${usage.month}: ${usage.used} of ${usage.limit ?? 'unlimited'} requests used`,
    `${usage.per_minute_limit} requests a minute; the month resets at ${usage.resets_at}`,
  ];
  context.output.result(usage, lines);
  return EXIT.done;
}
