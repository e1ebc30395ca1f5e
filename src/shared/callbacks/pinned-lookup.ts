import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { privateAddressProblem, type CallbackTargetPolicy } from './callback-target.js';

/** A callback connection refused because its host resolved to an address it may not reach. */
export class RefusedCallbackAddressError extends Error {
  override name = 'RefusedCallbackAddressError';
  readonly code = 'ECALLBACKREFUSED';
}

/**
 * The `lookup` of the callback delivery agents: the resolution that a socket connects with is the
 * one that is checked. Every address the name resolves to is checked, and the whole answer is
 * refused if any one is private (a name that resolves to a public and a private address is a
 * rebinding attempt, not a receiver). The socket then only gets checked addresses, so a DNS answer
 * that changes after an earlier check cannot steer the delivery inside. IP literals never reach a
 * lookup; the pre-check covers them.
 */
export function pinnedLookup(policy: CallbackTargetPolicy): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    policy.resolveHost(hostname).then(
      (resolved) => {
        // The whole answer is judged, before any family is picked from it.
        const problem = policy.allowPrivate ? null : privateAddressProblem(resolved, hostname);
        if (problem) {
          callback(new RefusedCallbackAddressError(problem), '', 0);
          return;
        }
        const wanted = options.family === 4 || options.family === 6 ? resolved.filter((entry) => entry.family === options.family) : resolved;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`'${hostname}' resolves to no usable address`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        const addresses: LookupAddress[] = wanted.map((entry) => ({ address: entry.address, family: entry.family }));
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
