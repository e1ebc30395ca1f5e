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
   * Answers undefined, without asking Redis, for a credential that passed from there before.
   */
  admit(address: string, digest: string): Promise<void> | undefined;
  /** The credential was right: it passes {@link admit} from that address from now on. */
  passed(address: string, digest: string): void;
  /** The credential was wrong: counts an invalid key of `address` (throws 429 past the limit). */
  failed(address: string, digest: string): Promise<void>;
}
