import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readWhole } from '../../src/shared/storage/read-whole.js';

/** Everything `source` still gives, collected through a pipeline as the upload store does. */
async function rest(source: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(source, new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      chunks.push(chunk);
      done();
    },
  }));
  return Buffer.concat(chunks);
}

const bytes = (length: number, seed = 1) => Buffer.from(Array.from({ length }, (_, index) => (index * 31 + seed) % 251));

describe('readWhole', () => {
  it('gives the whole body when it ends within the limit, also exactly at it', async () => {
    expect(await readWhole(Readable.from([bytes(10), bytes(20, 2)]), 100)).toEqual(Buffer.concat([bytes(10), bytes(20, 2)]));
    expect(await readWhole(Readable.from([bytes(100)]), 100)).toEqual(bytes(100));
    expect(await readWhole(Readable.from([]), 100)).toEqual(Buffer.alloc(0));
  });

  it('gives null past the limit and leaves every byte for a later pipe, when the end came with the last chunk read', async () => {
    // One chunk over the limit and the end right behind it, as a multipart parser gives a part.
    const body = bytes(5_000);
    const source = Readable.from([body]);
    expect(await readWhole(source, 1_000)).toBeNull();
    await nextTurn();
    expect(await rest(source)).toEqual(body);
  });

  it('gives null past the limit of a body still arriving, and a later pipe reads it all in order', async () => {
    const source = new PassThrough();
    const parts = Array.from({ length: 10 }, (_, index) => bytes(300, index));
    source.write(parts[0]);
    source.write(parts[1]);
    const whole = readWhole(source, 500);
    source.write(parts[2]);
    expect(await whole).toBeNull();
    await nextTurn();
    const read = rest(source);
    for (const part of parts.slice(3)) source.write(part);
    source.end();
    expect(await read).toEqual(Buffer.concat(parts));
  });

  it('keeps a failure that comes before the pipe for the pipe, instead of throwing it uncaught', async () => {
    const source = new PassThrough();
    source.write(bytes(600));
    expect(await readWhole(source, 500)).toBeNull();
    source.destroy(new Error('the client went away'));
    await nextTurn();
    await expect(rest(source)).rejects.toThrow('the client went away');
  });

  it('fails with the stream, and when it closes before its end', async () => {
    const failing = new PassThrough();
    const failed = readWhole(failing, 500);
    failing.destroy(new Error('reset'));
    await expect(failed).rejects.toThrow('reset');
    const closing = new PassThrough();
    const closed = readWhole(closing, 500);
    closing.write(bytes(10));
    closing.destroy();
    await expect(closed).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('fails at once with a stream that failed or closed before it was read', async () => {
    // A multipart file part whose body ended inside it has failed by the time the route reads it.
    const failed = new PassThrough();
    failed.on('error', () => {}); // the multipart parser's own listener
    failed.destroy(new Error('Unexpected end of multipart data'));
    await nextTurn();
    await expect(readWhole(failed, 500)).rejects.toThrow('Unexpected end of multipart data');
    const closed = new PassThrough();
    closed.destroy();
    await nextTurn();
    await expect(readWhole(closed, 500)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});
