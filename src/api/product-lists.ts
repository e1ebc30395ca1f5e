import { serviceUnavailable } from '../shared/http/app-error.js';
import { AccountPlaces } from './account-places.js';

/**
 * Product lists and searches (GET /v1/products) of one account that hold a PostgreSQL connection
 * at once on one API process. A search can run for seconds, up to API_STATEMENT_TIMEOUT_MS (a `q`
 * whose every trigram candidate fails the name check, or one with `updated_since`); without a
 * bound, one account's searches would take every connection of the API's pool of 10.
 */
export const PRODUCT_LISTS_PER_ACCOUNT = 3;

/** The 503 of a list that found no free place among its account's in time. */
export const PRODUCT_LISTS_WAITING_MESSAGE = "Too many of this account's product lists and searches are running on this server; try again shortly.";

/**
 * The places of the account's product lists: the others wait in the process, without a
 * connection, as long as any request waits for one of the pool's connections (`waitMs`,
 * DB_CONNECT_TIMEOUT_MS), then get 503 with Retry-After.
 */
export const productListPlaces = (waitMs: number, perAccount = PRODUCT_LISTS_PER_ACCOUNT) =>
  new AccountPlaces({ perAccount, waitMs, full: () => serviceUnavailable(PRODUCT_LISTS_WAITING_MESSAGE) });
