import { isIP } from 'node:net';
import { z } from 'zod';

/** Off, a hop count, or the addresses and CIDR ranges of trusted proxies. */
export type TrustProxySetting = false | number | string[];

/** Names of address ranges that Fastify's trustProxy (proxy-addr) understands. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const FORMAT = 'give a hop count (e.g. 1) or a comma-separated list of proxy addresses or CIDR ranges (e.g. 10.0.0.0/8,::1)';

/** Whether `entry` is an IP address, an IP/prefix CIDR range, or a named range. */
function isProxyRange(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: `false` or unset is off; a hop count trusts that many proxies in front of the
 * service; a list trusts the proxies at those addresses. `true` (trust every hop) is refused: then
 * any client could name its own address in X-Forwarded-For and escape the per-address limits.
 */
export const trustProxySetting = z
  .string()
  .default('false')
  .transform((value, context): TrustProxySetting => {
    const text = value.trim();
    if (text === 'false') return false;
    if (text === 'true') {
      context.addIssue({ code: 'custom', message: `'true' would trust any client's X-Forwarded-For; ${FORMAT}` });
      return z.NEVER;
    }
    if (/^\d+$/.test(text)) {
      if (Number(text) >= 1) return Number(text);
      context.addIssue({ code: 'custom', message: `the hop count must be at least 1 (use false for no proxy); ${FORMAT}` });
      return z.NEVER;
    }
    const entries = text.split(',').map((entry) => entry.trim());
    const wrong = entries.filter((entry) => !isProxyRange(entry));
    if (wrong.length === 0) return entries;
    const listed = wrong.map((entry) => `'${entry}'`).join(', ');
    context.addIssue({ code: 'custom', message: `not an address or CIDR range: ${listed}; ${FORMAT}` });
    return z.NEVER;
  });

/**
 * The setting as Fastify's `trustProxy` option. A hop count becomes a function of the hop index
 * (0 is the connecting peer), since Fastify 5 treats a bare number as trusting nothing.
 */
export function trustProxyOption(setting: TrustProxySetting): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'number') return setting;
  return (_address, hop) => hop < setting;
}
