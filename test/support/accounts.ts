import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { TestContext } from './test-context.js';

export const PASSWORD = 'correct horse battery staple';

export const uniqueEmail = (label = 'user') => `${label}-${randomBytes(4).toString('hex')}@example.com`;

/** POST with a JSON body and optional headers. */
export function post(ctx: TestContext, url: string, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });
}

/** The verification token of the newest mail to `email` in the outbox. */
export async function verificationTokenFor(ctx: TestContext, email: string): Promise<string> {
  const { rows } = await ctx.db.query<{ body: string }>(
    'SELECT body FROM mail_outbox WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1',
    [email],
  );
  const match = /verify-email\?token=([\w-]+)/.exec(rows[0]?.body ?? '');
  if (!match) throw new Error(`no verification mail for ${email}`);
  return match[1]!;
}

/** Signs up, verifies the email and logs in; returns the account id and a session token. */
export async function signUpAndLogIn(ctx: TestContext, email = uniqueEmail()): Promise<{ id: string; email: string; session: string }> {
  const signup = await post(ctx, '/v1/signup', { email, password: PASSWORD });
  if (signup.statusCode !== 201) throw new Error(`signup: ${signup.statusCode} ${signup.body}`);
  const verify = await post(ctx, '/v1/verify-email', { token: await verificationTokenFor(ctx, email) });
  if (verify.statusCode !== 200) throw new Error(`verify: ${verify.statusCode} ${verify.body}`);
  const login = await post(ctx, '/v1/login', { email, password: PASSWORD });
  if (login.statusCode !== 200) throw new Error(`login: ${login.statusCode} ${login.body}`);
  return { id: signup.json<{ id: string }>().id, email, session: login.json<{ token: string }>().token };
}
