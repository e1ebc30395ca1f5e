import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { credentialDigest, generateApiKey, hashApiKey, keyMatches, lookupPrefix, sameDigest } from '../../src/shared/accounts/api-keys.js';

describe('generateApiKey', () => {
  it('makes a key ck_<lookup id>_<secret> whose secret is at least 32 random bytes, apart from the prefix', () => {
    const { key, prefix } = generateApiKey();
    // Read by position, not split on '_': base64url secrets may contain '_' themselves.
    expect(key).toMatch(/^ck_[0-9a-f]{12}_[\w-]{43,}$/);
    const lookupId = key.slice(3, 15);
    const secret = key.slice(16);
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(prefix).toBe(`ck_${lookupId}`);
  });

  it('keeps the SHA-256 of the whole key as what is stored', () => {
    const { key, hash } = generateApiKey();
    expect(hash).toEqual(createHash('sha256').update(key).digest());
  });

  it('gives every key its own lookup id and secret', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey());
    expect(new Set(keys.map((generated) => generated.prefix)).size).toBe(keys.length);
    expect(new Set(keys.map((generated) => generated.key.slice(16))).size).toBe(keys.length);
  });
});

describe('lookupPrefix and keyMatches', () => {
  it('find a new key by its stored prefix and accept only the exact key', () => {
    const { key, prefix, hash } = generateApiKey();
    expect(lookupPrefix(key)).toBe(prefix);
    expect(keyMatches(key, hash)).toBe(true);
    expect(keyMatches(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`, hash)).toBe(false);
    expect(keyMatches(prefix, hash)).toBe(false);
  });

  it('still find a key of the earlier layout (ck_ and 43 characters) by its first 15 characters', () => {
    const legacy = `ck_${randomBytes(32).toString('base64url')}`;
    expect(lookupPrefix(legacy)).toBe(legacy.slice(0, 15));
    expect(keyMatches(legacy, hashApiKey(legacy))).toBe(true);
  });
});

describe('credentialDigest', () => {
  it('is the SHA-256 that is stored of a key, in base64', () => {
    const { key, hash } = generateApiKey();
    expect(credentialDigest(key)).toBe(createHash('sha256').update(key).digest('base64'));
    expect(Buffer.from(credentialDigest(key), 'base64')).toEqual(hash);
  });

  it('tells equal digests from digests that differ anywhere, or in length', () => {
    const digest = credentialDigest('ck_one');
    expect(sameDigest(digest, credentialDigest('ck_one'))).toBe(true);
    expect(sameDigest(digest, credentialDigest('ck_two'))).toBe(false);
    const changed = (at: number) => digest.slice(0, at) + (digest[at] === 'A' ? 'B' : 'A') + digest.slice(at + 1);
    expect(sameDigest(digest, changed(0))).toBe(false);
    expect(sameDigest(digest, changed(digest.length - 2))).toBe(false);
    expect(sameDigest(digest, digest.slice(0, -1))).toBe(false);
  });
});
