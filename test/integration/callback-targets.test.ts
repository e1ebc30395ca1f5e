import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver, ResolvedAddress } from '../../src/shared/callbacks/host-resolver.js';
import { createLogger } from '../../src/shared/logger.js';
import { deliverDueCallbacks } from '../../src/workers/callbacks/deliver-callbacks.js';
import { callbackStateOf, markJobEnded } from '../support/callback-delivery.js';
import { Receiver } from '../support/callback-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

const SECRET = 'callback-secret-0123456789';
const VALID_CSV = 'ean,name\n4006381333931,Pen\n';
const PUBLIC: ResolvedAddress = { address: '93.184.216.34', family: 4 };
const answer = (address: string): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 });

/** A DNS server under an attacker's control: each call gets the next scripted answer (the last one repeats). */
function scriptedResolver(...answers: ResolvedAddress[][]): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    return answers[Math.min(calls.length, answers.length) - 1]!;
  };
  return Object.assign(resolve, { calls });
}

describe('callbacks toward addresses inside the network (CALLBACK_ALLOW_PRIVATE=false)', () => {
  let ctx: TestContext;
  let key: string;
  const receiver = new Receiver();
  const logger = createLogger('silent');

  beforeAll(async () => {
    await receiver.start();
    // The API's resolver answers a public address, so the job is accepted; the workers are driven
    // below with a resolver of the test's choosing.
    ctx = await createTestContext({
      workers: false,
      env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'false' },
      resolveHost: async () => [PUBLIC],
    });
    key = (await ctx.createAccount()).key;
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.close();
  });

  /** Accepts an import whose callback_url names `host` on the receiver's port, and runs it. */
  async function endedJobCallingBack(host: string): Promise<string> {
    const response = await ctx.upload(key, VALID_CSV, { callback_url: receiver.url('/hook', host) });
    expect(response.statusCode).toBe(202);
    const id = response.json<{ id: string }>().id;
    await markJobEnded(ctx.db, id);
    return id;
  }

  it.each([
    ['127.0.0.1', [answer('127.0.0.1')]],
    ['::ffff:127.0.0.1', [answer('::ffff:127.0.0.1')]],
    ['0.0.0.0', [answer('0.0.0.0')]],
    ['127.0.0.1', [PUBLIC, answer('127.0.0.1')]],
  ])('never reaches %s that the name points at by the time of the connection', async (_refused, atConnection) => {
    const id = await endedJobCallingBack('localhost');
    // The check sees a public address; the next answer, the one a connection would use, is local.
    const resolveHost = scriptedResolver([PUBLIC], atConnection);
    const before = receiver.deliveries.length;

    await deliverDueCallbacks({ db: ctx.db, logger, fallbackSecret: SECRET, allowPrivate: false, resolveHost });

    expect(receiver.deliveries.length).toBe(before);
    expect(resolveHost.calls).toEqual(['localhost', 'localhost']);
    expect(await callbackStateOf(ctx.db, id)).toEqual({
      attempts: 1,
      // The address the name resolved to is not told: it would map the service's network.
      last_error: "callback_url refused: its host 'localhost' resolves to a private or loopback address",
      delivered: false,
      given_up: true,
    });
  });

  it('connects to the address the resolver answered, not to one the system resolves', async () => {
    // `receiver.test` has no address outside this resolver: the delivery arriving shows the
    // connection used the resolved (and, without CALLBACK_ALLOW_PRIVATE, checked) address.
    const id = await endedJobCallingBack('receiver.test');
    const before = receiver.deliveries.length;

    const resolveHost = scriptedResolver([answer('127.0.0.1')]);
    await deliverDueCallbacks({ db: ctx.db, logger, fallbackSecret: SECRET, allowPrivate: true, resolveHost });

    expect(receiver.deliveries.length).toBe(before + 1);
    expect(receiver.deliveries[before]!.headers['x-job-id']).toBe(id);
    expect(receiver.deliveries[before]!.headers.host).toBe(`receiver.test:${receiver.port}`);
    expect(await callbackStateOf(ctx.db, id)).toEqual({ attempts: 1, last_error: null, delivered: true, given_up: null });
  });

  it('gives up, sending nothing, a callback_url accepted with port 0 before such a URL was refused', async () => {
    const id = await endedJobCallingBack('receiver.test');
    await ctx.db.query("UPDATE jobs SET callback_url = 'http://receiver.test:0/hook' WHERE id = $1", [id]);
    const resolveHost = scriptedResolver([answer('127.0.0.1')]);

    await deliverDueCallbacks({ db: ctx.db, logger, fallbackSecret: SECRET, allowPrivate: true, resolveHost });

    expect(resolveHost.calls).toEqual([]);
    expect(await callbackStateOf(ctx.db, id)).toEqual({
      attempts: 1,
      last_error: "callback_url refused: it names port 0: give the receiver's port (1 to 65535), or none for the scheme's default",
      delivered: false,
      given_up: true,
    });
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
    ['http://[::ffff:7f00:1]:8080/hook', '::ffff:7f00:1'],
    ['http://[64:ff9b::a9fe:a9fe]/hook', '64:ff9b::a9fe:a9fe'],
    ['http://[2002:a00:1::1]/hook', '2002:a00:1::1'],
    ['http://2130706433:8080/hook', '127.0.0.1'],
    ['http://0.0.0.0:8080/hook', '0.0.0.0'],
    ['http://100.64.0.1/hook', '100.64.0.1'],
    ['http://[ff02::1]/hook', 'ff02::1'],
  ])('refuses the callback_url %s with 400 and accepts no job', async (url, address) => {
    const { rows: before } = await ctx.db.query('SELECT count(*)::int AS jobs FROM jobs');
    const response = await ctx.upload(key, VALID_CSV, { callback_url: url });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'BAD_REQUEST',
      error: `Invalid parameter 'callback_url': it points at the private or loopback address ${address}.`,
    });
    const { rows: after } = await ctx.db.query('SELECT count(*)::int AS jobs FROM jobs');
    expect(after[0].jobs).toBe(before[0].jobs);
  });
});
