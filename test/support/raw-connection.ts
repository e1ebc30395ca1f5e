import { connect, type Socket } from 'node:net';

/** One answer read off a {@link RawConnection}. */
export interface RawConnectionAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * A kept-alive HTTP/1.1 connection written by hand, as a proxy's pooled upstream connection is:
 * each request goes on the same socket, and how the server ends it (a FIN, or a reset) is seen.
 * Answers must carry a Content-Length (the API's JSON answers do).
 */
export class RawConnection {
  private received = Buffer.alloc(0);
  private wake: () => void = () => {};
  /** How the server ended the connection: `end` (a FIN after its answers) or the socket's error code (`ECONNRESET`). */
  readonly ended: Promise<string>;
  private endedAs: string | undefined;

  private constructor(private readonly socket: Socket) {
    this.ended = new Promise((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        this.received = Buffer.concat([this.received, chunk]);
        this.wake();
      });
      socket.on('end', () => this.settle('end', resolve));
      socket.on('error', (error: NodeJS.ErrnoException) => this.settle(error.code ?? error.message, resolve));
      socket.on('close', () => this.settle('close', resolve));
    });
  }

  private settle(how: string, resolve: (how: string) => void): void {
    this.endedAs ??= how;
    resolve(this.endedAs);
    this.wake();
  }

  /** Opens a connection to `port` on the loopback address. */
  static async open(port: number): Promise<RawConnection> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.setNoDelay(true);
    return new RawConnection(socket);
  }

  /** How the server has ended the connection so far (undefined while it is open). */
  get state(): string | undefined {
    return this.endedAs;
  }

  /** Writes raw bytes (a request, or part of one). */
  write(data: string): void {
    this.socket.write(data);
  }

  /** Sends a request without a body, asking to keep the connection. */
  get(path: string, headers: Record<string, string> = {}): void {
    this.write(`GET ${path} HTTP/1.1\r\nHost: api\r\nConnection: keep-alive\r\n${headerLines(headers)}\r\n`);
  }

  /**
   * The next whole answer; rejects when the connection ends without one (naming how it ended),
   * or after `ms`.
   */
  async answer(ms = 10_000): Promise<RawConnectionAnswer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const answer = this.takeAnswer();
      if (answer) return answer;
      if (this.endedAs !== undefined) throw new Error(`the connection ended (${this.endedAs}) without an answer`);
      if (Date.now() >= deadline) throw new Error(`no answer within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Closes the connection from this side. */
  destroy(): void {
    this.socket.destroy();
  }

  private takeAnswer(): RawConnectionAnswer | undefined {
    const headEnd = this.received.indexOf('\r\n\r\n');
    if (headEnd === -1) return undefined;
    const [statusLine, ...lines] = this.received.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }));
    const length = Number(headers['content-length'] ?? NaN);
    if (!Number.isInteger(length)) throw new Error(`an answer without Content-Length: ${statusLine}`);
    if (this.received.length < headEnd + 4 + length) return undefined;
    const body = this.received.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    this.received = this.received.subarray(headEnd + 4 + length);
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }
}

const headerLines = (headers: Record<string, string>) => Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
