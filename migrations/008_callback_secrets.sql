-- Per-account callback signing secrets (POST /v1/callback-secret). Stored as-is, not hashed: the
-- worker needs the key itself to compute each delivery's HMAC. A rotation keeps the replaced secret
-- as previous_secret until previous_valid_until, and deliveries are signed with both meanwhile.
CREATE TABLE callback_secrets (
  account_id           uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  secret               text NOT NULL,
  previous_secret      text,
  previous_valid_until timestamptz,
  rotated_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((previous_secret IS NULL) = (previous_valid_until IS NULL))
);
