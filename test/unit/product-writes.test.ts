import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/http/app-error.js';
import { PRODUCT_HELD_MESSAGE, PRODUCT_WRITES_WAITING_MESSAGE, ProductWrites } from '../../src/api/product-writes.js';

/** A write that ends when `end()` is called. */
function heldWrite() {
  let end!: () => void;
  const done = new Promise<void>((resolve) => (end = resolve));
  return { write: () => done, end };
}

describe('ProductWrites', () => {
  it("runs at most its bound of an account's writes at once, the next when one ends, other accounts' at once", async () => {
    const writes = new ProductWrites(10_000, 2);
    const held = [heldWrite(), heldWrite()];
    const running = held.map((h) => writes.run('a', h.write));
    let thirdStarted = false;
    const third = writes.run('a', async () => {
      thirdStarted = true;
    });
    expect(await writes.run('b', async () => 'other account')).toBe('other account');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(thirdStarted).toBe(false);
    held[0]!.end();
    await third;
    expect(thirdStarted).toBe(true);
    held[1]!.end();
    await Promise.all(running);
  });

  it('refuses a write that waited for a place as long as a lock may be waited for, with 503', async () => {
    const writes = new ProductWrites(50, 1);
    const held = heldWrite();
    const running = writes.run('a', held.write);
    const refused = await writes.run('a', async () => 'ran').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', message: PRODUCT_WRITES_WAITING_MESSAGE });
    held.end();
    await running;
    expect(await writes.run('a', async () => 'ran')).toBe('ran');
  });

  it("answers a write whose lock wait ran out (55P03) with 503 naming the product's job", async () => {
    const writes = new ProductWrites(50);
    const failure = Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
    const refused = await writes.run('a', () => Promise.reject(failure)).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', message: PRODUCT_HELD_MESSAGE, extras: { retry_after_seconds: 5 } });
  });
});
