import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Cluster, type Redis } from 'ioredis';

/**
 * How often the process sends itself a message through its subscription, and for how long the
 * last one that came back vouches for it: a subscription that stopped delivering without its
 * connection closing (a Redis that hangs; on a Cluster, the node that holds it failing) counts as
 * down within a second.
 */
const ECHO_INTERVAL_MS = 250;
const ECHO_VALID_MS = 1_000;

/**
 * What a listener hears: an account whose keys, sessions or state changed, or `null` when the
 * subscription has just stopped being live (announcements may have been missed since the last
 * one that came).
 */
export type CredentialChangeListener = (accountId: string | null) => void;

/**
 * This API process's subscription to the credential channel (credentialChannel), on which every
 * process announces the accounts whose keys, sessions or state it changed. Its users (the
 * credential cache, the open event streams) must not rely on it while it is not {@link live}.
 */
export interface CredentialSubscription {
  /** Whether announcements are known to arrive: subscribed, and the process's own echo came back within a second. */
  live(): boolean;
  /** Calls `listener` on each announcement and each loss of liveness; returns the way to stop. */
  listen(listener: CredentialChangeListener): () => void;
  close(): Promise<void>;
}

export interface CredentialSubscriptionDeps {
  /** A connection to duplicate: the subscription needs a connection of its own. */
  redis: Redis | Cluster;
  channel: string;
  logger: FastifyBaseLogger;
}

/** Subscribes to `channel` on a duplicate of `redis`, on every (re)connection, and watches that it delivers. */
export function createCredentialSubscription(deps: CredentialSubscriptionDeps): CredentialSubscription {
  const listeners = new Set<CredentialChangeListener>();
  const tell = (accountId: string | null) => {
    for (const listener of listeners) listener(accountId);
  };
  let subscribed = false;
  let wasLive = false;
  let echoedAt = -Infinity;
  /** Whether the subscription delivers; tells the listeners once when it stopped. */
  const live = () => {
    const now = subscribed && performance.now() - echoedAt < ECHO_VALID_MS;
    if (wasLive && !now) tell(null);
    wasLive = now;
    return now;
  };
  const down = () => {
    subscribed = false;
    live();
  };

  // Subscribed by the 'ready' handler below on every (re)connection. A server connection's own
  // resubscription would send a second SUBSCRIBE, whose failure (the connection lost again at
  // once, or closed) nothing would catch. A Cluster resubscribes on a connection of its own.
  const subscriber = deps.redis instanceof Cluster ? deps.redis.duplicate() : deps.redis.duplicate({ autoResubscribe: false });
  const echoChannel = `${deps.channel}:echo:${randomUUID()}`;
  const echo = () => deps.redis.publish(echoChannel, '').catch(() => undefined);
  subscriber.on('message', (channel: string, message: string) => {
    live();
    if (channel === echoChannel) {
      echoedAt = performance.now();
      live();
    } else tell(message);
  });
  subscriber.on('error', (error: unknown) => deps.logger.warn({ err: error }, 'credential-change subscription error'));
  for (const event of ['close', 'reconnecting', 'end']) subscriber.on(event, down);
  // Subscribes on every (re)connection; live again once its first echo has come back.
  subscriber.on('ready', () => {
    subscriber.subscribe(deps.channel, echoChannel).then(
      () => {
        subscribed = subscriber.status === 'ready';
        void echo();
      },
      (error: unknown) => {
        // A SUBSCRIBE that timed out (REDIS_COMMAND_TIMEOUT_MS: a Redis that hangs) would leave the
        // subscription down until the connection happens to drop: it reconnects, and subscribes again.
        deps.logger.warn({ err: error }, 'could not subscribe to credential changes');
        if (subscriber.status === 'ready') subscriber.disconnect(true);
      },
    );
  });
  const echoTimer = setInterval(() => {
    live();
    void echo();
  }, ECHO_INTERVAL_MS).unref();

  return {
    live,
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      clearInterval(echoTimer);
      down();
      listeners.clear();
      subscriber.disconnect();
    },
  };
}
