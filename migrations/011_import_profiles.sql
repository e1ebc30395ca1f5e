-- Saved import profiles: how an account's files are read (column renaming, delimiter, encoding,
-- decimal separator, worksheet, mode, on_error), applied with POST /v1/imports?profile=.

CREATE TABLE import_profiles (
  id         uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name       text NOT NULL,
  -- The settings as given, unset ones left out: {columns, delimiter, encoding, decimal_separator, sheet, mode, on_error}.
  settings   jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Names are unique per account whatever their case: ?profile=akeneo must name one profile.
CREATE UNIQUE INDEX import_profiles_name_idx ON import_profiles (account_id, lower(name));
CREATE INDEX import_profiles_account_idx ON import_profiles (account_id, created_at DESC, id DESC);
