import { insertApiKey } from '../../src/shared/accounts/account-queries.js';
import { generateApiKey, type Scope } from '../../src/shared/accounts/api-keys.js';
import type { TestContext } from './test-context.js';

/** A second key of `accountId` with only `scopes`. */
export async function keyWithScopes(ctx: TestContext, accountId: string, scopes: Scope[]): Promise<string> {
  const key = generateApiKey();
  await insertApiKey(ctx.db, { accountId, prefix: key.prefix, hash: key.hash, name: 'narrow', scopes });
  return key.key;
}
