import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../src/shared/callbacks/callback-target.js';
import { callbackRetryDelay } from '../../src/workers/callbacks/deliver-callbacks.js';

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '10.0.0.5', '172.20.1.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1'])(
    'treats %s as private',
    (address) => expect(isPrivateAddress(address)).toBe(true),
  );

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('treats %s as public', (address) =>
    expect(isPrivateAddress(address)).toBe(false),
  );
});

describe('callbackRetryDelay', () => {
  it('doubles from the base, caps at an hour and gives up after the last attempt', () => {
    expect([1, 2, 3].map((attempt) => callbackRetryDelay(attempt, 5, 10))).toEqual([5, 10, 20]);
    expect(callbackRetryDelay(9, 5, 10)).toBe(1280);
    expect(callbackRetryDelay(9, 60, 10)).toBe(3600);
    expect(callbackRetryDelay(10, 5, 10)).toBeNull();
  });
});
