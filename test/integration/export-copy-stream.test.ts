import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyOutStream } from '../../src/workers/copy-out-stream.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The COPY … TO STDOUT reader under the exports: blocks, row counts, notices, errors, and the
// connection handed back to pg in a usable state.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

/** Runs `sql` through a CopyOutStream on one pooled client; the output, the chunk sizes and the stream. */
async function copyOut(sql: string, prefix?: Buffer, setup?: string) {
  const client = await ctx.db.connect();
  const chunks: Buffer[] = [];
  let failure: unknown;
  try {
    if (setup) await client.query(setup);
    const copy = client.query(new CopyOutStream(sql, prefix));
    await pipeline(copy, new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) }));
    // The connection is in sync again: the next query on it works.
    expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    return { text: Buffer.concat(chunks).toString('utf8'), sizes: chunks.map((chunk) => chunk.length), copy };
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    client.release(failure !== undefined);
  }
}

describe('CopyOutStream', () => {
  it('streams the COPY output after the prefix in blocks of at most 1 MiB, counting rows', async () => {
    const { text, sizes, copy } = await copyOut(
      `COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 50000) AS g) TO STDOUT WITH (FORMAT csv)`,
      Buffer.from('n,text\n'),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('n,text');
    expect(lines[1]).toBe(`1,${'x'.repeat(100)}`);
    expect(lines[50000]).toBe(`50000,${'x'.repeat(100)}`);
    expect(lines).toHaveLength(50002);
    expect(copy.rows).toBe(50000);
    expect(copy.rowCount).toBe(50000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1 << 20);
    expect(sizes.slice(0, -1).every((size) => size === 1 << 20)).toBe(true);
  });

  it('splits a row larger than a block across blocks and keeps every byte, multi-byte text included', async () => {
    const { text, copy } = await copyOut(
      `COPY (SELECT repeat('ä€', 700000) UNION ALL SELECT 'end') TO STDOUT WITH (FORMAT csv)`,
    );
    expect(text).toBe(`${'ä€'.repeat(700000)}\nend\n`);
    expect(copy.rows).toBe(2);
  });

  it('writes nothing for no rows', async () => {
    const { text, copy } = await copyOut('COPY (SELECT 1 WHERE false) TO STDOUT', Buffer.from('header\n'));
    expect(text).toBe('header\n');
    expect(copy.rowCount).toBe(0);
  });

  it('skips notices sent between the rows', async () => {
    const { text } = await copyOut(
      `COPY (SELECT pg_temp.noisy(g) FROM generate_series(1, 3) AS g) TO STDOUT`,
      undefined,
      `CREATE FUNCTION pg_temp.noisy(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'row %', i; RETURN i; END $$`,
    );
    expect(text).toBe('1\n2\n3\n');
  });

  it('fails with the database error when the COPY fails half-way, and leaves the connection usable', async () => {
    const client = await ctx.db.connect();
    try {
      const copy = client.query(new CopyOutStream('COPY (SELECT 1 / (5000 - g) FROM generate_series(1, 10000) AS g) TO STDOUT'));
      await expect(pipeline(copy, new Writable({ write: (_chunk, _encoding, done) => done() }))).rejects.toThrow('division by zero');
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
  });
});
