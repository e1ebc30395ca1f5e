import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChunkTables } from '../../src/workers/import/chunk-sql.js';
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
});
