import type { CredentialAttempts } from '../../shared/http/credential-attempts.js';
import { AppError } from '../errors.js';
import { addressBucket } from './address-bucket.js';
import type { RequestLimits } from './limits.js';

/** Credentials (by address) this process remembers as right; past this the least recent goes. */
const KNOWN_ENTRIES = 10_000;
/** How long a credential stays known since it last passed from its address. */
const KNOWN_MS = 60 * 60_000;

/**
 * The {@link CredentialAttempts} of one API process on the shared per-address counter of `limits`.
 * A credential that passed from an address (IPv6: its /64) is remembered with it, so a client that
 * is already in keeps working while its neighbour behind the same address uses up the attempts;
 * a guess cannot become known without passing the check first. The memory is this process's own:
 * on another API process the first request of such a client waits for the next minute.
 */
export function createCredentialAttempts(limits: Pick<RequestLimits, 'checkInvalidKey' | 'countInvalidKey'>): CredentialAttempts {
  /** `<address bucket> <digest>` → performance.now() until which it is known, least recent first. */
  const known = new Map<string, number>();
  const entry = (address: string, digest: string) => `${addressBucket(address)} ${digest}`;
  const isKnown = (key: string) => {
    const until = known.get(key);
    if (until === undefined) return false;
    if (until > performance.now()) return true;
    known.delete(key);
    return false;
  };

  return {
    admit(address, digest) {
      return isKnown(entry(address, digest)) ? undefined : limits.checkInvalidKey(address).then(() => undefined, unlessRedisDown);
    },
    passed(address, digest) {
      const key = entry(address, digest);
      const now = performance.now();
      // Renewed once half its time has gone, not on every request: the order of the map (least
      // recently renewed first) is what is let go past KNOWN_ENTRIES.
      if ((known.get(key) ?? 0) - now > KNOWN_MS / 2) return;
      known.delete(key);
      if (known.size >= KNOWN_ENTRIES) known.delete(known.keys().next().value!);
      known.set(key, now + KNOWN_MS);
    },
    async failed(address, digest) {
      // A revoked key, or a changed operator key, is a guess again from now on.
      known.delete(entry(address, digest));
      await limits.countInvalidKey(address);
    },
  };
}

/**
 * Lets a credential be checked when the counter cannot be read: without Redis the operator key
 * and the metrics token still work (neither needs Redis otherwise), and a wrong one is still
 * refused by its comparison. Other errors (the 429) stand. Answers the 503 it let pass.
 */
function unlessRedisDown(error: unknown): AppError {
  if (error instanceof AppError && error.status === 503) return error;
  throw error;
}
