import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a server of the test, to break the network between the
 * service and it: cut a response mid-way, or refuse every connection until told otherwise.
 */
export interface TcpProxy {
  url: string;
  /** The request lines and headers that went through, in order (HTTP/1.1 requests). */
  requests: string[];
  /**
   * Cuts the next response that grows past `bytes` (headers included), once; `thenDown`: and goes
   * down; `stall`: keeps that connection open instead, forwarding nothing more either way.
   */
  cutNextResponseAfter(bytes: number, options?: { thenDown?: boolean; stall?: boolean }): void;
  /** Down: closes every open connection and resets each new one at once. Up: forwards again. */
  setDown(down: boolean): void;
  /**
   * Silent: keeps every connection open but forwards nothing, as a host gone from the network or a
   * NAT that forgot the connection would. A connection that lost bytes so stays silent; new ones
   * forward again once the proxy is no longer silent.
   */
  setSilent(silent: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let down = false;
  let silent = false;
  let cutAfter: number | null = null;
  let downAfterCut = false;
  let stallAtCut = false;
  const requests: string[] = [];
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(client);
    let responseBytes = 0;
    let lostBytes = false;
    const dropped = () => (lostBytes ||= silent);
    client.on('data', (chunk: Buffer) => {
      if (dropped()) return;
      const text = chunk.toString('latin1');
      if (/^[A-Z]+ \//.test(text)) {
        requests.push(text.slice(0, text.indexOf('\r\n\r\n') + 1 || 2_000));
        responseBytes = 0;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropped()) return;
      responseBytes += chunk.length;
      if (cutAfter !== null && responseBytes > cutAfter) {
        const keep = chunk.length - (responseBytes - cutAfter);
        cutAfter = null;
        if (stallAtCut) {
          client.write(chunk.subarray(0, Math.max(keep, 0)));
          lostBytes = true;
          return;
        }
        // The bytes before the cut still arrive, then the connection ends mid-response.
        client.end(chunk.subarray(0, Math.max(keep, 0)));
        upstream.destroy();
        if (downAfterCut) setDown(true);
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  const setDown = (value: boolean) => {
    down = value;
    if (down) for (const socket of open) socket.destroy();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutNextResponseAfter(bytes, options = {}) {
      cutAfter = bytes;
      downAfterCut = options.thenDown ?? false;
      stallAtCut = options.stall ?? false;
    },
    setDown,
    setSilent(value) {
      silent = value;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
