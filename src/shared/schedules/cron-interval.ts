import { CronExpressionParser } from 'cron-parser';

const MINUTES_PER_DAY = 24 * 60;

/**
 * The shortest time in minutes between two runs of a 5-field cron, read on the wall clock: the
 * gaps between the day's firing times (hour × minute) and the gap from the day's last run to the
 * next day's first. Days are taken as consecutive even when the day fields skip some, so a cron
 * is never judged slower than it can be; a daylight-saving change can shorten one real gap
 * once a year. 1440 for a cron that fires once a day or less. The cron must already be valid.
 */
export function shortestIntervalMinutes(cron: string): number {
  const { minute, hour } = CronExpressionParser.parse(cron).fields;
  const times = hour.values.flatMap((h) => minute.values.map((m) => h * 60 + m)).sort((a, b) => a - b);
  let shortest = MINUTES_PER_DAY - times.at(-1)! + times[0]!;
  for (let index = 1; index < times.length; index += 1) {
    shortest = Math.min(shortest, times[index]! - times[index - 1]!);
  }
  return shortest;
}
