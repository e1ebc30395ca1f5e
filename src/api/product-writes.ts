import { serviceUnavailable } from '../shared/http/app-error.js';
import { AccountPlaces } from './account-places.js';

/**
 * Product writes of one account that hold a PostgreSQL connection at once on one API process.
 * A write of a product that a running job holds (an import keeps the rows it has written locked
 * until it commits) waits in PostgreSQL up to API_LOCK_TIMEOUT_MS with a connection of the API's
 * pool of 10; without a bound, one account's writes during its import would take every connection,
 * and every other account's requests would wait with them.
 */
export const PRODUCT_WRITES_PER_ACCOUNT = 3;

/** The 503 of a write of a product that a running job holds past API_LOCK_TIMEOUT_MS. */
export const PRODUCT_HELD_MESSAGE = 'This product is being written by a running job (such as an import); try again once it has ended.';

/** The 503 of a write that found no free place among its account's within API_LOCK_TIMEOUT_MS. */
export const PRODUCT_WRITES_WAITING_MESSAGE =
  "Too many of this account's product writes are waiting on this server, such as for a running import; try again shortly.";

/** PostgreSQL's lock_not_available: a lock wait ran past the session's lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Runs the API's product writes, at most {@link PRODUCT_WRITES_PER_ACCOUNT} of an account at a
 * time on this process ({@link AccountPlaces}); the others wait here, without a connection, as
 * long as a write may wait for a lock (`waitMs`), then get 503. A write whose lock wait ran out is
 * answered 503 SERVICE_UNAVAILABLE (with Retry-After) saying the product is held by a running job.
 */
export class ProductWrites {
  private readonly places: AccountPlaces;

  constructor(
    /** API_LOCK_TIMEOUT_MS: the longest wait for a place, as for a lock. */
    waitMs: number,
    perAccount = PRODUCT_WRITES_PER_ACCOUNT,
  ) {
    this.places = new AccountPlaces({ perAccount, waitMs, full: () => serviceUnavailable(PRODUCT_WRITES_WAITING_MESSAGE) });
  }

  /** Runs `write` of the account's catalog once it has a place. */
  async run<T>(accountId: string, write: () => Promise<T>): Promise<T> {
    return this.places.run(accountId, async () => {
      try {
        return await write();
      } catch (error) {
        if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) throw Object.assign(serviceUnavailable(PRODUCT_HELD_MESSAGE), { cause: error });
        throw error;
      }
    });
  }
}
