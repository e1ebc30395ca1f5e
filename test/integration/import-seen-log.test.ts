import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChunkTables } from '../../src/workers/import/chunk-sql.js';
import { FirstLoadRepeats } from '../../src/workers/import/first-load-repeats.js';
import { eanKey } from '../../src/workers/import/seen-eans.js';
import { SeenLog } from '../../src/workers/import/seen-log.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const ean = (row: number) => String(4_006_381_000_000 + row);

describe("a first load's seen log", () => {
  it('moves every row to import_seen_log once, also rows logged while an earlier move was writing', async () => {
    const client = await ctx.db.connect();
    try {
      await client.query('BEGIN');
      await createChunkTables(client, { firstLoad: true });
      const log = new SeenLog(64);
      for (let row = 1; row <= 100; row += 1) log.add(eanKey(ean(row)), row);
      expect(log.full).toBe(true);
      const moving = log.flush(client);
      // The next chunk's rows are logged while the first move waits for PostgreSQL.
      for (let row = 101; row <= 150; row += 1) log.add(eanKey(ean(row)), row);
      await moving;
      expect(log.size).toBe(50);
      await log.flush(client);
      expect(log.size).toBe(0);
      const { rows } = await client.query<{ ean: string; row: number }>('SELECT ean, row::int AS row FROM import_seen_log ORDER BY row');
      expect(rows).toEqual(Array.from({ length: 150 }, (_, i) => ({ ean: ean(i + 1), row: i + 1 })));
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('an EAN of a file in EAN order is "maybe seen" when it repeats one the log moved before', async () => {
    const client = await ctx.db.connect();
    try {
      await client.query('BEGIN');
      await createChunkTables(client, { firstLoad: true });
      const reportRepeat = async () => {};
      const repeats = new FirstLoadRepeats(client, '00000000-0000-0000-0000-000000000000', { filterBytes: 1 << 16, logMaxEntries: 64 }, reportRepeat);
      const maybe: number[] = [];
      for (let row = 1; row <= 100; row += 1) if (repeats.maybeSeen(ean(row * 2), row)) maybe.push(row);
      // The log is past its budget and moves to the database; the rows stay in the filter.
      await repeats.settle({ candidates: [] });
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM import_seen_log');
      expect(rows[0]!.n).toBe(100);
      expect(repeats.maybeSeen(ean(2 * 7), 101)).toBe(true);
      expect(repeats.maybeSeen(ean(2 * 100), 102)).toBe(true);
      // Out of order and new: the filter's own answer (certainly new for a filter this sparse).
      expect(repeats.maybeSeen(ean(2 * 7 + 1), 103)).toBe(false);
      expect(maybe).toEqual([]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
