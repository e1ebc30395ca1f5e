import { BlockList, isIP } from 'node:net';

/**
 * IPv4 ranges that are not globally reachable (RFC 6890 and its successors): this host, private
 * networks, CGNAT shared space, loopback, link-local (with the cloud metadata service at
 * 169.254.169.254), IETF protocol assignments, documentation, 6to4 relays, benchmarking,
 * multicast, reserved and broadcast.
 */
const IPV4_REFUSED = blockList('ipv4', [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
]);

/**
 * IPv6 is checked the other way round: only global unicast (2000::/3) may be reached, which leaves
 * out the unspecified and loopback addresses, IPv4-compatible (::/96) forms, discard-only 100::/64,
 * local-use NAT64 64:ff9b:1::/48, unique-local fc00::/7 (with the metadata address fd00:ec2::254),
 * link-local fe80::/10, site-local fec0::/10 and multicast ff00::/8. Inside 2000::/3 these are
 * refused as well: IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID) and the
 * documentation prefixes 2001:db8::/32 and 3fff::/20.
 */
const IPV6_ALLOWED = blockList('ipv6', [['2000::', 3]]);
const IPV6_REFUSED = blockList('ipv6', [['2001::', 23], ['2001:db8::', 32], ['3fff::', 20]]);

function blockList(family: 'ipv4' | 'ipv6', ranges: ReadonlyArray<readonly [string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges) list.addSubnet(network, prefix, family);
  return list;
}

/** The 16 bytes of an IPv6 address (`isIP` already said it is one; no zone id). */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const words = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
}

const dottedQuad = (bytes: number[]) => bytes.join('.');
const startsWith = (bytes: number[], prefix: number[]) => prefix.every((byte, index) => bytes[index] === byte);

/**
 * The IPv4 address an IPv6 address stands for, when it is one of the forms that reach IPv4:
 * IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d (RFC 6052) and 6to4 2002:aabb:ccdd::/48.
 */
function embeddedIpv4(bytes: number[]): string | null {
  if (startsWith(bytes, [...new Array<number>(10).fill(0), 0xff, 0xff])) return dottedQuad(bytes.slice(12));
  if (startsWith(bytes, [0x00, 0x64, 0xff, 0x9b, ...new Array<number>(8).fill(0)])) return dottedQuad(bytes.slice(12));
  if (startsWith(bytes, [0x20, 0x02])) return dottedQuad(bytes.slice(2, 6));
  return null;
}

/**
 * True for an address no callback may be sent to unless the operator allows private targets:
 * anything that is not a plain, globally reachable unicast address. An IPv6 form that embeds an
 * IPv4 address is judged by that IPv4 address; a zone id (`fe80::1%eth0`) or a string that is
 * not an address at all is refused.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return IPV4_REFUSED.check(address, 'ipv4');
  if (family !== 6 || address.includes('%')) return true;
  const bytes = ipv6Bytes(address);
  const ipv4 = embeddedIpv4(bytes);
  if (ipv4 !== null) return IPV4_REFUSED.check(ipv4, 'ipv4');
  return !IPV6_ALLOWED.check(address, 'ipv6') || IPV6_REFUSED.check(address, 'ipv6');
}
