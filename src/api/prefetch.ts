import type { FastifyRequest } from 'fastify';

/**
 * A read route's lookup for an account, from the request's params as routed (before validation;
 * a route's params schema must take any string, as the job id and EAN schemas do). It must not
 * change anything: it may run for a request that admission then refuses.
 */
export type Lookup<T> = (request: FastifyRequest, accountId: string) => Promise<T>;

interface Prefetch {
  lookup: Lookup<unknown>;
  result: Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The route's lookup, started while the request was being admitted. */
    prefetch: Prefetch | null;
  }
  interface FastifyContextConfig {
    /**
     * The route's lookup, which authentication starts beside the admission round trip to Redis
     * when the account had room at its last admission: a polling client waits for one round
     * trip instead of two. The handler takes the result with {@link prefetched}.
     */
    prefetch?: Lookup<unknown>;
  }
}

/** Starts the route's lookup now. A failure waits for the handler, or is dropped with a refused request. */
export function startPrefetch(request: FastifyRequest, lookup: Lookup<unknown>, accountId: string): void {
  const result = lookup(request, accountId);
  result.catch(() => undefined);
  request.prefetch = { lookup, result };
}

/** The result of `lookup` for the request: the one started during admission if there is one, else a new one. */
export function prefetched<T>(request: FastifyRequest, lookup: Lookup<T>, accountId: string): Promise<T> {
  const started = request.prefetch;
  return started?.lookup === lookup ? (started.result as Promise<T>) : lookup(request, accountId);
}
