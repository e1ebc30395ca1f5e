import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { CallbackTargetPolicy } from '../../shared/callbacks/callback-target.js';
import { pinnedLookup } from '../../shared/callbacks/pinned-lookup.js';

/** The agents every callback is sent through: their lookup is the checked, pinned one. */
export interface CallbackAgents {
  http: HttpAgent;
  https: HttpsAgent;
}

/**
 * Creates the delivery agents. No keep-alive: each delivery resolves and checks its host anew, so a
 * socket opened to an address that was public then is not reused after the name moved.
 */
export function createCallbackAgents(policy: CallbackTargetPolicy): CallbackAgents {
  const lookup = pinnedLookup(policy);
  return { http: new HttpAgent({ keepAlive: false, lookup }), https: new HttpsAgent({ keepAlive: false, lookup }) };
}

/**
 * POSTs `body` to `url` through the pinned agents and answers with the receiver's status. Redirects
 * are not followed (a 3xx is a failed delivery): a redirect could point anywhere.
 */
export function postCallback(
  agents: CallbackAgents,
  url: string,
  request: { headers: Record<string, string>; body: string; timeoutMs: number },
): Promise<number> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const agent = target.protocol === 'https:' ? agents.https : agents.http;
  return new Promise((resolve, reject) => {
    const outgoing = send(target, {
      method: 'POST',
      agent,
      headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    outgoing.on('response', (response: IncomingMessage) => {
      // Only the status matters: the connection is closed at once, so a receiver that streams an
      // endless answer holds nothing of ours.
      response.on('error', () => {});
      resolve(response.statusCode ?? 0);
      response.destroy();
    });
    // A 101 answer comes as 'upgrade', not 'response': a failed delivery like any other non-2xx.
    outgoing.on('upgrade', (response: IncomingMessage, socket: { destroy(): void }) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('error', reject);
    // Whatever else ends the request without an answer or an error: never a delivery left waiting.
    outgoing.on('close', () => reject(new Error('the connection closed without an answer')));
    outgoing.end(request.body);
  });
}
