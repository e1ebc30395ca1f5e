import type { Worker } from 'bullmq';
import type { RedisConnection } from '../shared/redis-connection.js';
import type { Logger } from 'pino';
import { CANCEL_REASON } from './job-processor.js';

/**
 * Listens on `channel` for cancelled job ids and aborts their running delivery in this process
 * (its processor's signal aborts with reason `cancelled`). The cancel request already ended the
 * job row; a process that does not run the job ignores the message. Returns a function that stops.
 */
export function listenForCancels(
  connection: RedisConnection,
  channel: string,
  workers: Worker[],
  logger: Logger,
): () => Promise<void> {
  const subscriber = connection.duplicate();
  subscriber.on('error', (error) => logger.warn({ err: error }, 'cancel listener connection error'));
  subscriber.on('message', (_channel: string, jobId: string) => {
    for (const worker of workers) {
      if (worker.cancelJob(jobId, CANCEL_REASON)) logger.info({ jobId, queue: worker.name }, 'running job cancelled');
    }
  });
  // ioredis subscribes again by itself after a reconnect.
  subscriber.subscribe(channel).catch((error: unknown) => logger.error({ err: error }, 'could not subscribe to job cancels'));
  return async () => {
    subscriber.disconnect();
  };
}

