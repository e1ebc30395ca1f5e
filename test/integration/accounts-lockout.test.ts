import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/shared/accounts/passwords.js';
import { PASSWORD, post, signUpAndLogIn, uniqueEmail } from '../support/accounts.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The service's real password check, counted: how many checks a burst of logins got is what the
 * lockout rations. While `hold()` is on, every check waits (after it started) until `release()`,
 * so a test can send a login while others are known to be mid-check.
 */
class CountedPasswordCheck {
  started = 0;
  private gate: Promise<void> | null = null;
  private open = () => {};
  private watchers: Array<{ count: number; resolve: () => void }> = [];

  readonly verify = async (password: string, stored: string): Promise<boolean> => {
    this.started += 1;
    for (const watcher of this.watchers.filter((entry) => entry.count <= this.started)) watcher.resolve();
    if (this.gate) await this.gate;
    return verifyPassword(password, stored);
  };

  reset(): void {
    this.started = 0;
    this.watchers = [];
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = null;
    this.open();
  }

  /** Resolves once `count` checks have started. */
  startedAtLeast(count: number): Promise<void> {
    if (this.started >= count) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ count, resolve }));
  }
}

const checks = new CountedPasswordCheck();
let ctx: TestContext;
const now = Date.parse('2026-05-14T10:30:00Z');

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, clock: () => now, verifyPassword: checks.verify });
});
afterAll(async () => ctx?.close());
beforeEach(() => {
  checks.release();
  checks.reset();
});

const login = (email: string, password: string) => post(ctx, '/v1/login', { email, password });
const WRONG = 'wrong password 123';

describe('login lockout under concurrent attempts', () => {
  it('lets 20 concurrent wrong-password logins check the password only 5 times, then answers 423', async () => {
    const { email } = await signUpAndLogIn(ctx);
    checks.reset();
    const responses = await Promise.all(Array.from({ length: 20 }, () => login(email, WRONG)));
    expect(checks.started).toBe(5);
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 423)).toHaveLength(15);
    for (const response of responses) {
      if (response.statusCode === 401) expect(response.json().error).toBe('Invalid email or password.');
      else expect(response.json()).toMatchObject({ error_code: 'ACCOUNT_LOCKED', retry_after_seconds: 15 * 60 });
    }

    const right = await login(email, PASSWORD);
    expect(right.statusCode).toBe(423);
    expect(right.json().error).toMatch(/^Account locked/);
    expect(checks.started).toBe(5);
  });

  it('answers an email without an account exactly as an account: 5 checks, then 423, so the lock tells nothing', async () => {
    const email = `nobody-${Date.now()}@example.com`;
    const responses = await Promise.all(Array.from({ length: 20 }, (_, index) => login(index % 2 ? email : email.toUpperCase(), WRONG)));
    expect(checks.started).toBe(5);
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 423)).toHaveLength(15);
    expect(responses.find((response) => response.statusCode === 423)!.json()).toMatchObject({
      error_code: 'ACCOUNT_LOCKED', retry_after_seconds: 15 * 60,
    });
  });

  it('refuses the right password that arrives while the fifth wrong one is still being checked', async () => {
    const { email } = await signUpAndLogIn(ctx);
    checks.reset();
    checks.hold();
    const wrong = Array.from({ length: 5 }, () => login(email, WRONG));
    await checks.startedAtLeast(5);
    const right = login(email, PASSWORD);
    // Either the right password is refused without a check, or a sixth check starts: no clock involved.
    await Promise.race([right, checks.startedAtLeast(6)]);
    checks.release();
    expect((await right).statusCode).toBe(423);
    expect((await Promise.all(wrong)).map((response) => response.statusCode)).toEqual([401, 401, 401, 401, 401]);
    expect(checks.started).toBe(5);
  });

  it('logs in with the right password among the first five attempts, and forgets the others', async () => {
    const { email } = await signUpAndLogIn(ctx);
    for (let attempt = 0; attempt < 3; attempt += 1) expect((await login(email, WRONG)).statusCode).toBe(401);
    const [right, ...wrong] = await Promise.all([login(email, PASSWORD), login(email, WRONG)]);
    expect(right!.statusCode).toBe(200);
    expect(wrong.map((response) => response.statusCode)).toEqual([401]);
    // The count starts again after the successful login (the concurrent failure may or may not be in it).
    for (let attempt = 0; attempt < 3; attempt += 1) expect((await login(email, WRONG)).statusCode).toBe(401);
    expect((await login(email, PASSWORD)).statusCode).toBe(200);
  });
});

describe('the email of a login', () => {
  /** The same address as a client may type it: spaces around it, other case, a Kelvin sign for its leading k. */
  const spellings = (email: string) => [email, ` ${email}`, `${email}\t`, email.toUpperCase(), `\u212A${email.slice(1)}`];

  /** Five wrong logins, one per spelling, then the right password: the statuses a client sees. */
  async function statusesOf(email: string): Promise<number[]> {
    const statuses: number[] = [];
    for (const spelling of spellings(email)) statuses.push((await login(spelling, WRONG)).statusCode);
    statuses.push((await login(email, PASSWORD)).statusCode);
    return statuses;
  }

  it('locks an existing and an unknown email alike, however the email is spelt', async () => {
    const { email } = await signUpAndLogIn(ctx, uniqueEmail('kept'));
    const unknown = uniqueEmail('kept');
    expect(await statusesOf(email)).toEqual([401, 401, 401, 401, 401, 423]);
    expect(await statusesOf(unknown)).toEqual([401, 401, 401, 401, 401, 423]);
  });

  it('logs in with spaces around the email', async () => {
    const { email } = await signUpAndLogIn(ctx);
    const response = await login(`  ${email}\t`, PASSWORD);
    expect(response.statusCode).toBe(200);
  });
});
