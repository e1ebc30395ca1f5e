import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../src/shared/callbacks/callback-target.js';
import { callbackRetryDelay } from '../../src/workers/callbacks/deliver-callbacks.js';

describe('isPrivateAddress', () => {
  it.each([
    // IPv4: this network, private, CGNAT, loopback, link-local and cloud metadata, IETF, documentation,
    // 6to4 relay, benchmarking, multicast, reserved, broadcast.
    '0.0.0.0', '0.1.2.3', '10.0.0.5', '100.64.0.1', '100.127.255.254', '127.0.0.1', '127.255.0.1', '169.254.169.254',
    '172.20.1.1', '192.0.0.8', '192.0.2.10', '192.88.99.1', '192.168.1.1', '198.18.0.1', '198.51.100.7', '203.0.113.9',
    '224.0.0.251', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    // IPv6: unspecified, loopback, unique-local (AWS metadata fd00:ec2::254), link-local, site-local, multicast.
    '::', '::1', 'fd00::1', 'fd00:ec2::254', 'fc00::1', 'fe80::1', 'fe80::1%eth0', 'fec0::1', 'ff02::1', 'ff0e::1',
    // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of private IPv4, in both spellings.
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::127.0.0.1', '::7f00:1', '::8.8.8.8',
    '64:ff9b::127.0.0.1', '64:ff9b::a9fe:a9fe', '64:ff9b::10.0.0.1', '64:ff9b:1::8.8.8.8',
    '2002:7f00:1::1', '2002:a9fe:a9fe::', '2002:c0a8:101::1',
    // Teredo, benchmarking, documentation, discard-only.
    '2001::1', '2001:2::1', '2001:db8::1', '3fff::1', '100::1',
    // Not an address at all.
    'localhost', '', '1.2.3',
  ])('refuses %s', (address) => expect(isPrivateAddress(address)).toBe(true));

  it.each([
    '93.184.216.34', '8.8.8.8', '100.63.255.255', '100.128.0.1', '172.32.0.1', '192.0.1.1', '223.255.255.255',
    '2606:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '64:ff9b::8.8.8.8', '2002:808:808::1',
  ])('allows the public address %s', (address) => expect(isPrivateAddress(address)).toBe(false));
});

describe('callbackRetryDelay', () => {
  it('doubles from the base, caps at an hour and gives up after the last attempt', () => {
    expect([1, 2, 3].map((attempt) => callbackRetryDelay(attempt, 5, 10))).toEqual([5, 10, 20]);
    expect(callbackRetryDelay(9, 5, 10)).toBe(1280);
    expect(callbackRetryDelay(9, 60, 10)).toBe(3600);
    expect(callbackRetryDelay(10, 5, 10)).toBeNull();
  });
});
