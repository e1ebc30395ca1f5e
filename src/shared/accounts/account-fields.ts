import { z } from 'zod';
import { SCOPES } from './api-keys.js';

/** `issue.input === undefined` means the field was left out. */
const requiredOr = (field: string, otherwise: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `The ${field} field is required.` : otherwise;

export const emailField = z
  .email({ error: requiredOr('email', 'The email field must be a valid email address.') })
  .max(320, { error: 'The email field must be at most 320 characters.' });

/** At least 12 characters (API.md §1); at most 1,024 so that hashing stays cheap. */
export const newPasswordField = z
  .string({ error: requiredOr('password', 'The password field must be a string.') })
  .min(12, { error: 'The password must be at least 12 characters long.' })
  .max(1024, { error: 'The password must be at most 1024 characters long.' });

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
