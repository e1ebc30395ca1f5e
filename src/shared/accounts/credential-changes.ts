import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.js';
import { queuePrefix } from '../queues.js';

/**
 * The Redis pub/sub channel on which an API process tells every other one that an account's keys,
 * sessions or state changed (the message is the account id), so each drops what it cached of them.
 * Inside the queue prefix's hash tag, like the deployment's other keys.
 */
export function credentialChannel(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `${queuePrefix(config)}:credential-change`;
}

/** Tells every API process that the account's credentials changed (revocation, suspension, tier, verification). */
export interface CredentialChanges {
  announce(accountId: string): Promise<void>;
}

/**
 * Publishes changes on `channel`. A failed publish is logged, not thrown: the change is already
 * committed, and a process that misses it stops using its cached entry when the entry's short TTL
 * ends (or at once, when its own subscription is down, since the cache is then bypassed).
 */
export function credentialChanges(
  redis: Redis | Cluster,
  channel: string,
  onError: (error: unknown, accountId: string) => void,
): CredentialChanges {
  return {
    async announce(accountId) {
      await redis.publish(channel, accountId).catch((error: unknown) => onError(error, accountId));
    },
  };
}
