import { z } from 'zod';
import { SCOPES } from './api-keys.js';

/**
 * The message of a field's type issue: "required" only when the field was left out
 * (`issue.input === undefined`), else `otherwise`; its other checks carry their own messages.
 */
export const requiredOr = (field: string, otherwise: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `The ${field} field is required.` : otherwise;

/**
 * The email of a login as both lockouts count it (an account's in PostgreSQL, an unknown email's
 * in Redis): without surrounding whitespace, in lower case. Stored emails are ASCII (emailField),
 * where this lower case is PostgreSQL's lower(); one form for both keeps a 423 from telling them apart.
 */
export function loginEmailKey(email: string): string {
  return email.trim().toLowerCase();
}

export const emailField = z
  .email({ error: requiredOr('email', 'The email field must be a valid email address.') })
  .max(320, { error: 'The email field must be at most 320 characters.' });

/** Fewer different characters than this make a weak password, however long (`aaaaaaaaaaaa`). */
const MIN_DISTINCT_PASSWORD_CHARACTERS = 4;

/** Runs a password check only when the length is right, so a short password gets one message. */
const whenLengthIsRight = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

/**
 * A password being set (API.md §1: a weak one is VALIDATION_ERROR): at least 12 characters, not
 * whitespace only and at least 4 different characters; at most 1,024 so that hashing stays cheap.
 */
export const newPasswordField = z
  .string({ error: requiredOr('password', 'The password field must be a string.') })
  .min(12, { error: 'The password must be at least 12 characters long.' })
  .max(1024, { error: 'The password must be at most 1024 characters long.' })
  .refine((password) => password.trim() !== '', { error: 'The password must not be made of spaces only.', ...whenLengthIsRight })
  .refine((password) => new Set(password).size >= MIN_DISTINCT_PASSWORD_CHARACTERS, {
    error: `The password must use at least ${MIN_DISTINCT_PASSWORD_CHARACTERS} different characters.`,
    ...whenLengthIsRight,
  });

export const tierField = z.enum(['FREE', 'PRO', 'ENTERPRISE'], {
  error: requiredOr('tier', 'The tier must be FREE, PRO or ENTERPRISE.'),
});

export const scopeField = z.enum(SCOPES, {
  error: (issue) => `Unknown scope '${String(issue.input)}': use one of ${SCOPES.join(', ')}.`,
});

/** The account as operators see it (API.md §2). */
export const accountSchema = z
  .object({ id: z.uuid(), email: z.string(), tier: tierField, email_verified: z.boolean(), suspended: z.boolean() })
  .meta({ id: 'Account' });
