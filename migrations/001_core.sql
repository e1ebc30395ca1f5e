-- Accounts, API keys, products, jobs and the per-row job report.
-- Keys and accounts carry the columns that scopes, expiry, revocation, suspension and tiers need,
-- so the accounts/limits work adds behaviour, not a schema rewrite.

CREATE TABLE accounts (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email          text NOT NULL,
  tier           text NOT NULL DEFAULT 'FREE' CHECK (tier IN ('FREE', 'PRO', 'ENTERPRISE')),
  email_verified boolean NOT NULL DEFAULT false,
  suspended      boolean NOT NULL DEFAULT false,
  password_hash  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  -- The public start of the key, used to find the row; the secret is only ever stored hashed.
  prefix       text NOT NULL UNIQUE,
  key_hash     bytea NOT NULL,
  name         text NOT NULL,
  scopes       text[] NOT NULL,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_account_idx ON api_keys (account_id);

-- No foreign key on account_id: PostgreSQL checks one per inserted row, which costs bulk imports
-- about 40% of their merge time; every product write takes the account id from a credential.
CREATE TABLE products (
  account_id  uuid NOT NULL,
  -- Digits only: byte order is the right order, and "C" compares bytes instead of calling the
  -- locale's collation, which makes every index lookup and insert of a bulk import cheaper.
  ean         text COLLATE "C" NOT NULL,
  name        text NOT NULL,
  brand       text,
  category    text,
  description text,
  -- numeric without a typmod keeps the scale it was given: '1.50' stays '1.50'.
  price       numeric CHECK (price >= 0),
  currency    text,
  stock       integer CHECK (stock >= 0),
  image_url   text,
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, ean)
);

CREATE TABLE jobs (
  id              uuid PRIMARY KEY,
  account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  type            text NOT NULL CHECK (type IN ('import', 'export', 'enrichment')),
  status          text NOT NULL DEFAULT 'processing'
                  CHECK (status IN ('processing', 'completed', 'failed', 'cancelled')),
  phase           text NOT NULL DEFAULT 'queued' CHECK (phase IN ('queued', 'running', 'finalizing', 'done')),
  error_code      text,
  detail          text,
  options         jsonb NOT NULL DEFAULT '{}'::jsonb,
  rows_total      bigint,
  rows_processed  bigint NOT NULL DEFAULT 0,
  rows_succeeded  bigint NOT NULL DEFAULT 0,
  rows_failed     bigint NOT NULL DEFAULT 0,
  rows_created    bigint NOT NULL DEFAULT 0,
  rows_updated    bigint NOT NULL DEFAULT 0,
  rows_unchanged  bigint NOT NULL DEFAULT 0,
  -- The stored input (upload) relative to DATA_DIR, and the header as uploaded (for errors.csv).
  input_path      text,
  input_bytes     bigint,
  input_columns   text[],
  idempotency_key text,
  request_hash    text,
  attempts        integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_account_created_idx ON jobs (account_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_processing_idx ON jobs (status) WHERE status = 'processing';

CREATE TABLE job_row_errors (
  job_id  uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  -- 1-based data row (the header is row 0); ordinal orders several problems of one row.
  row     bigint NOT NULL,
  ordinal integer NOT NULL,
  ean     text,
  field   text,
  code    text NOT NULL,
  message text NOT NULL,
  -- The record's cells as uploaded, a JSON array, so errors.csv gives back the original columns.
  raw     text,
  PRIMARY KEY (job_id, row, ordinal)
);

-- Per-attempt report tables of running imports live here (UNLOGGED, dropped when the attempt
-- ends; leftovers of crashed attempts are dropped by the periodic cleanup).
CREATE SCHEMA import_staging;
