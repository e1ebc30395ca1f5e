import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One callback POST as the receiver got it. */
export interface Delivery {
  headers: IncomingHttpHeaders;
  /** The path and query the delivery was sent to. */
  url: string;
  body: string;
}

/**
 * A client's callback receiver on a loopback port: records deliveries as they arrive, answers with
 * the scripted statuses, then 200, each `answerAfterMs` after the delivery arrived.
 */
export class Receiver {
  readonly deliveries: Delivery[] = [];
  private readonly server: Server;
  private script: number[] = [];

  constructor(answerAfterMs = 0) {
    this.server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        this.deliveries.push({ headers: request.headers, url: request.url ?? '', body });
        response.statusCode = this.script.shift() ?? 200;
        setTimeout(() => response.end(), answerAfterMs);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook', host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  answerNext(...statuses: number[]): void {
    this.script = statuses;
  }

  async waitFor(count: number, timeoutMs = 15_000): Promise<Delivery[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.deliveries.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.deliveries.length} of ${count} deliveries arrived`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.deliveries;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
