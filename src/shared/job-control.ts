import type { Config } from './config.js';
import { queuePrefix } from './queues.js';

/**
 * The Redis pub/sub channel on which the API tells every worker process that a job was cancelled
 * (the message is the job id). Inside the queue prefix's hash tag, like the queues' own keys.
 */
export function cancelChannel(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `${queuePrefix(config)}:job-cancel`;
}
