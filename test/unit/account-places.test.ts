import { describe, expect, it } from 'vitest';
import { AccountPlaces } from '../../src/api/account-places.js';

/** Work that ends when `end()` is called. */
function heldWork() {
  let end!: () => void;
  const done = new Promise<void>((resolve) => (end = resolve));
  return { work: () => done, end };
}

describe('AccountPlaces', () => {
  it('lets a waiting request whose signal aborts leave the queue at once, and hands the place to the next', async () => {
    const places = new AccountPlaces({ perAccount: 1, waitMs: 10_000, full: () => new Error('full') });
    const held = heldWork();
    const running = places.run('a', held.work);
    const gone = new AbortController();
    let goneRan = false;
    const left = places.run('a', async () => {
      goneRan = true;
    }, gone.signal).catch((error: unknown) => error);
    const next = places.run('a', async () => 'next');
    gone.abort(new Error('the client closed the connection'));
    expect(await left).toMatchObject({ message: 'the client closed the connection' });
    held.end();
    await running;
    expect(await next).toBe('next');
    expect(goneRan).toBe(false);
  });

  it('does not start work whose signal has already aborted', async () => {
    const places = new AccountPlaces({ perAccount: 1, waitMs: 10_000, full: () => new Error('full') });
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    await expect(places.run('a', async () => 'ran', gone.signal)).rejects.toThrow('gone');
    expect(await places.run('a', async () => 'ran')).toBe('ran');
  });
});
