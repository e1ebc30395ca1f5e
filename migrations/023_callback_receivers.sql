-- Callback delivery gives each receiver (a callback_url's scheme, host and port) and each account
-- only a share of a worker's slots, so a claim reads the first due deliveries of each account's
-- receivers, not the due rows in one line. This index lets it step from one account's receiver to
-- the next and read a few rows there, instead of reading and sorting every due row however long
-- one account's backlog grows. Deliveries given up ('infinity') are left out: they are never due.
-- The receiver expression and the predicate are repeated, as written here, by the queries in
-- src/shared/callbacks/callback-queries.ts, which PostgreSQL needs to use the index.
CREATE INDEX jobs_callback_receivers_idx
  ON jobs (account_id, lower(substring(callback_url FROM '^[^/]*//[^/?#]*')), coalesce(callback_next_at, '-infinity'), finished_at)
  WHERE callback_url IS NOT NULL AND callback_delivered_at IS NULL AND status <> 'processing'
    AND coalesce(callback_next_at, '-infinity') < 'infinity';
