import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateCallbackSecret, MissingSigningSecretError, signCallback } from '../../src/shared/callbacks/signature.js';

const hmac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest('hex');

describe('signCallback', () => {
  it('signs `<t>.<body>` once per secret, the current secret first', () => {
    expect(signCallback(['new-secret'], 1_700_000_000, '{}')).toBe(`t=1700000000,v1=${hmac('new-secret', '1700000000.{}')}`);
    expect(signCallback(['new-secret', 'old-secret'], 1_700_000_000, '{}')).toBe(
      `t=1700000000,v1=${hmac('new-secret', '1700000000.{}')},v1=${hmac('old-secret', '1700000000.{}')}`,
    );
  });

  it.each([[[]], [['']], [['a-secret', '']]])('refuses to sign with no key: %j', (secrets) => {
    expect(() => signCallback(secrets, 1_700_000_000, '{}')).toThrow(MissingSigningSecretError);
  });
});

describe('generateCallbackSecret', () => {
  it('makes a distinct cbs_ secret of 32 random bytes each time', () => {
    const [first, second] = [generateCallbackSecret(), generateCallbackSecret()];
    expect(first).toMatch(/^cbs_[\w-]{43}$/);
    expect(second).not.toBe(first);
  });
});
