import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { headersTimeoutOptions, limitConnections } from '../../src/api/connection-limits.js';

/** A socket as the server's 'connection' event hands it over: an address, close and destroy. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

function limitedServer(perAddress: number) {
  const server = new EventEmitter() as EventEmitter & { maxConnections?: number };
  const warnings: Record<string, unknown>[] = [];
  const logger = { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as unknown as FastifyBaseLogger;
  let now = 0;
  limitConnections(server as unknown as Server, { perAddress, total: 500 }, logger, () => now);
  const connect = (address: string) => {
    const socket = new FakeSocket(address);
    server.emit('connection', socket);
    return socket;
  };
  return { server, warnings, connect, advance: (ms: number) => (now += ms) };
}

describe('limitConnections', () => {
  it('sets the total cap as the server’s maxConnections', () => {
    expect(limitedServer(2).server.maxConnections).toBe(500);
  });

  it('closes a connection past the cap of its address, and counts an IPv6 client by its /64', () => {
    const { connect } = limitedServer(2);
    expect([connect('203.0.113.7'), connect('203.0.113.7'), connect('203.0.113.7')].map((socket) => socket.destroyed)).toEqual([false, false, true]);
    expect(connect('203.0.113.8').destroyed).toBe(false);
    expect([connect('2001:db8::1'), connect('2001:db8::2'), connect('2001:db8::3')].map((socket) => socket.destroyed)).toEqual([false, false, true]);
  });

  it('makes room again when a connection of the address closes', () => {
    const { connect } = limitedServer(1);
    const first = connect('203.0.113.7');
    expect(connect('203.0.113.7').destroyed).toBe(true);
    first.destroy();
    expect(connect('203.0.113.7').destroyed).toBe(false);
  });

  it('logs the refusals of one address at most once a minute', () => {
    const { connect, warnings, advance } = limitedServer(1);
    connect('203.0.113.7');
    for (let n = 0; n < 100; n += 1) connect('203.0.113.7');
    connect('203.0.113.8');
    connect('203.0.113.8');
    expect(warnings.map((fields) => fields.client)).toEqual(['203.0.113.7', '203.0.113.8']);
    advance(59_999);
    connect('203.0.113.7');
    expect(warnings).toHaveLength(2);
    advance(1);
    connect('203.0.113.7');
    expect(warnings.map((fields) => fields.client)).toEqual(['203.0.113.7', '203.0.113.8', '203.0.113.7']);
  });

  it('takes every connection with a cap of 0', () => {
    const { connect } = limitedServer(0);
    expect(Array.from({ length: 1_000 }, () => connect('203.0.113.7').destroyed)).not.toContain(true);
  });
});

describe('headersTimeoutOptions', () => {
  it('looks for late headers every quarter of the timeout, at most every 5 s, and keeps the timeout within the request timeout', () => {
    expect(headersTimeoutOptions(20_000, 3_600_000)).toEqual({ headersTimeout: 20_000, requestTimeout: 3_600_000, connectionsCheckingInterval: 5_000 });
    expect(headersTimeoutOptions(1_000, 3_600_000).connectionsCheckingInterval).toBe(250);
    expect(headersTimeoutOptions(90_000, 30_000).headersTimeout).toBe(30_000);
  });
});
