import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';

/** What a client got back: status, headers and body text; `null` status when the server closed without answering. */
export interface RawAnswer {
  status: number | null;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Sends a request over a real connection, writing `chunks` as they come (with backpressure) and
 * stopping as soon as the server answers: what a client that streams a large or slow body sees.
 */
export async function streamRequest(
  url: string,
  init: { method?: string; headers: Record<string, string>; chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string> },
): Promise<RawAnswer> {
  const request = httpRequest(url, { method: init.method ?? 'POST', headers: init.headers, agent: false });
  let answered = false;
  const answer = new Promise<RawAnswer>((resolve) => {
    request.on('response', (response) => {
      answered = true;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (text: string) => (body += text));
      response.on('end', () => resolve({ status: response.statusCode ?? null, headers: response.headers, body }));
      response.on('error', () => resolve({ status: response.statusCode ?? null, headers: response.headers, body }));
    });
    request.on('error', () => {
      if (!answered) resolve({ status: null, headers: {}, body: '' });
    });
  });
  for await (const chunk of init.chunks) {
    if (answered || request.destroyed) break;
    if (!request.write(chunk)) await Promise.race([once(request, 'drain'), answer]);
  }
  if (!answered && !request.destroyed) request.end();
  const result = await answer;
  request.destroy();
  return result;
}

/** Resolves after `ms` milliseconds. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
