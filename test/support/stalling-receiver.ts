import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A client's callback receiver that is down in a slow way: on each of its ports (each port another
 * receiver origin) it takes every POST and never answers, until `recover()`. Then it drops the
 * requests it holds (the sender sees a failed attempt) and answers each later one 200 at once.
 */
export class StallingReceiver {
  /** Job ids (X-Job-Id) of the deliveries answered 200, one entry per answer. */
  readonly accepted: string[] = [];
  /** The most requests held at once. */
  mostHeld = 0;
  private readonly servers: Server[];
  private readonly held = new Set<IncomingMessage>();
  private stalling = true;

  constructor(ports = 1) {
    this.servers = Array.from({ length: ports }, () => createServer((request, response) => this.answer(request, response)));
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    request.resume();
    if (this.stalling) {
      this.held.add(request);
      this.mostHeld = Math.max(this.mostHeld, this.held.size);
      request.socket.once('close', () => this.held.delete(request));
      return;
    }
    request.once('end', () => {
      this.accepted.push(String(request.headers['x-job-id']));
      response.end();
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  }

  /** The callback URL on port number `index` of the receiver. */
  url(index = 0): string {
    return `http://127.0.0.1:${(this.servers[index]!.address() as AddressInfo).port}/hook`;
  }

  /** How many requests it holds now. */
  get holding(): number {
    return this.held.size;
  }

  recover(): void {
    this.stalling = false;
    for (const request of this.held) request.socket.destroy();
  }

  async close(): Promise<void> {
    for (const server of this.servers) server.closeAllConnections();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
