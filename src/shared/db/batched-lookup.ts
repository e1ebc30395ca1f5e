import { turnBatch } from '../turn-batch.js';
import type { Db } from './pool.js';

/** One lookup: an account and the key of one of its rows. */
interface Lookup {
  accountId: string;
  key: string;
}

/**
 * Looks an account's rows up by key, with one query for all the lookups asked for in one turn of
 * the event loop: a busy API process makes one round trip to PostgreSQL for the requests that
 * arrived together instead of one each. `text` gets the accounts as `$1` (uuid[]) and the keys as
 * `$2` (text[]) and answers each row found with its lookup's 1-based position as `n` (left on the
 * row it resolves); a lookup without a row (or with a key holding a NUL character) gets null.
 */
export function batchedLookup<Row extends object>(
  db: Db,
  name: string,
  text: string,
): (accountId: string, key: string) => Promise<Row | null> {
  const loader = turnBatch<Lookup, Row | null>(async (lookups) => {
    const { rows } = await db.query<Row & { n: number }>({
      name,
      text,
      values: [lookups.map((lookup) => lookup.accountId), lookups.map((lookup) => lookup.key)],
    });
    const found: (Row | null)[] = lookups.map(() => null);
    // A row keeps its `n`: copying every other column out of it cost more than the extra property.
    for (const row of rows) found[row.n - 1] = row;
    return found;
  });
  // PostgreSQL refuses a NUL in text: no row has such a key, and sent along it would fail the
  // query of every lookup in its batch.
  return (accountId, key) => (key.includes('\u0000') ? Promise.resolve(null) : loader.load({ accountId, key }));
}
