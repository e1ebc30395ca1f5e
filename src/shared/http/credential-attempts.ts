import type { AppError } from './app-error.js';

/**
 * The per-address limit on wrong credentials (API.md §1: invalid API keys, and the operator's
 * dashboard password and metrics token beside them), as a credential check sees it. Credentials
 * are named by their SHA-256 digest (credentialDigest), never kept themselves.
 */
export interface CredentialAttempts {
  /**
   * Before a credential is checked: throws 429 RATE_LIMIT_EXCEEDED when `address` has used up its
   * invalid-key attempts of the current minute, unless this credential already passed from that
   * address. So past the limit a guess is refused unchecked, whether right or wrong. Counts nothing.
   * Answers undefined, without asking Redis, for a credential that passed from there before. When
   * Redis does not answer, the credential is let through to its check and the promise resolves to
   * the 503 that was not thrown: a caller whose next step needs Redis answers it at once, instead
   * of waiting for Redis a second time.
   */
  admit(address: string, digest: string): Promise<AppError | undefined> | undefined;
  /** The credential was right: it passes {@link admit} from that address from now on. */
  passed(address: string, digest: string): void;
  /** The credential was wrong: counts an invalid key of `address` (throws 429 past the limit). */
  failed(address: string, digest: string): Promise<void>;
}
