import { createHmac } from 'node:crypto';

/**
 * The `X-Signature` of a callback: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over `<t>.<body>`, keyed
 * by CALLBACK_SECRET. The timestamp lets a receiver refuse replays of old deliveries.
 */
export function signCallback(secret: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${digest}`;
}
