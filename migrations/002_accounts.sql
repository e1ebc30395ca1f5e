-- Self-service accounts: login sessions, email verification, lockout, monthly usage, mail outbox.

-- Set when 5 failed logins fall within 15 minutes; logins answer 423 until then.
ALTER TABLE accounts ADD COLUMN locked_until timestamptz;

-- Failed logins of the last 15 minutes (older rows are pruned when the next failure is recorded).
CREATE TABLE login_failures (
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  failed_at  timestamptz NOT NULL
);
CREATE INDEX login_failures_account_idx ON login_failures (account_id, failed_at);

-- Session tokens from POST /v1/login; only a SHA-256 of the token is stored.
CREATE TABLE sessions (
  token_hash bytea PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Single-use email verification tokens (24 hours); only a SHA-256 of the token is stored.
CREATE TABLE email_verifications (
  token_hash bytea PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);

-- Requests per account and calendar month (UTC, 'YYYY-MM'): the durable monthly quota count.
CREATE TABLE usage_counters (
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  month      text NOT NULL,
  used       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, month)
);

-- Messages the service sent without SMTP (SMTP_URL unset): kept here so nothing is lost.
CREATE TABLE mail_outbox (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  to_address text NOT NULL,
  subject    text NOT NULL,
  body       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
