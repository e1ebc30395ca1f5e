import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoveryEan } from '../support/recovery-support.js';
import { untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Re-imports of files in EAN order into a filled catalog. Such a file's chunks read their stored
 * products as one stretch of the key while the stretch holds few other products; a file whose
 * EANs are spread thinly over a larger catalog is merged EAN by EAN instead. Either way the
 * catalog and the counts are exact. Chunks hold 5,000 rows, so each file here spans several.
 */

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** A CSV of products `numbers` (EANs from recoveryEan, ascending when the numbers are), each named by `label(n)`. */
function csvOf(numbers: number[], label: (n: number) => string): Buffer {
  const lines = ['ean,name,brand,price,currency,stock'];
  for (const n of numbers) lines.push(`${recoveryEan(n)},${label(n)} ${n},Brand ${n % 97},${(n % 1000) + 0.5},EUR,${n % 50}`);
  return Buffer.from(lines.join('\n') + '\n');
}

const range = (from: number, to: number, keep: (n: number) => boolean = () => true): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i).filter(keep);

/** How many of the account's products have each name prefix, and how many products in all. */
async function namesOf(accountId: string): Promise<Record<string, number>> {
  const { rows } = await ctx.db.query<{ label: string; n: number }>(
    `SELECT split_part(name, ' ', 1) AS label, count(*)::int AS n FROM products WHERE account_id = $1 GROUP BY 1`,
    [accountId],
  );
  return Object.fromEntries(rows.map(({ label, n }) => [label, n]));
}

describe('re-importing a file in EAN order', () => {
  it('updates changed rows, creates new ones between stored EANs and leaves the rest untouched', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    // Every 20th product is missing from the catalog: the second file brings it, between stored EANs.
    const first = await ctx.importCsv(account.key, csvOf(range(0, 12_000, (n) => n % 20 !== 0), () => 'Same'));
    expect(first.progress.rows_created).toBe(11_400);

    const label = (n: number) => (n % 20 === 0 ? 'New' : n % 10 === 5 ? 'Changed' : 'Same');
    const second = await ctx.importCsv(account.key, csvOf(range(0, 12_000), label));
    expect(second.status).toBe('completed');
    expect(second.progress).toMatchObject({ rows_total: 12_000, rows_failed: 0, rows_created: 600, rows_updated: 1_200, rows_unchanged: 10_200 });
    expect(await namesOf(account.id)).toEqual({ Same: 10_200, Changed: 1_200, New: 600 });
  });

  it('is exact when its EANs are spread thinly over a larger catalog', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, csvOf(range(0, 30_000), () => 'Same'));

    // Every fifth stored product, every tenth of those changed, then 100 new products past the end:
    // each chunk's stretch of EANs holds five stored products per row.
    const numbers = [...range(0, 30_000, (n) => n % 5 === 0), ...range(30_000, 30_100)];
    const label = (n: number) => (n >= 30_000 ? 'New' : n % 50 === 0 ? 'Changed' : 'Same');
    const second = await ctx.importCsv(account.key, csvOf(numbers, label));
    expect(second.status).toBe('completed');
    expect(second.progress).toMatchObject({ rows_total: 6_100, rows_failed: 0, rows_created: 100, rows_updated: 600, rows_unchanged: 5_400 });
    expect(await namesOf(account.id)).toEqual({ Same: 29_400, Changed: 600, New: 100 });
  });
});

describe('re-importing a file in scrambled order', () => {
  it('is exact over several chunks, each compared while the next one\'s products are read', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const scrambled = (numbers: number[]) => numbers.map((n, i) => numbers[(i * 7_919) % numbers.length]!);
    await ctx.importCsv(account.key, csvOf(scrambled(range(0, 16_000, (n) => n % 20 !== 0)), () => 'Same'));

    const label = (n: number) => (n % 20 === 0 ? 'New' : n % 10 === 5 ? 'Changed' : 'Same');
    const second = await ctx.importCsv(account.key, csvOf(scrambled(range(0, 16_000)), label));
    expect(second.status).toBe('completed');
    expect(second.progress).toMatchObject({ rows_total: 16_000, rows_failed: 0, rows_created: 800, rows_updated: 1_600, rows_unchanged: 13_600 });
    expect(await namesOf(account.id)).toEqual({ Same: 13_600, Changed: 1_600, New: 800 });
  });
});
