-- A callback claim first reads the due deliveries in the order they came due, on this index: when
-- fewer than a claim's scan are due, that is every due row, and the claim chooses among them
-- without stepping through every account's receivers on migration 023's index, which costs a
-- probe per (account, receiver) with a delivery pending, due or not (20,000 webhooks waiting out
-- their back-off made each claim take about 100 ms). Only when more are due does the claim walk
-- the receivers, so one account's backlog cannot hide another's deliveries. The expression and
-- the predicate are repeated, as written here, by src/shared/callbacks/callback-queries.ts.
CREATE INDEX jobs_callback_due_idx
  ON jobs (coalesce(callback_next_at, '-infinity'), finished_at, id)
  WHERE callback_url IS NOT NULL AND callback_delivered_at IS NULL AND status <> 'processing'
    AND coalesce(callback_next_at, '-infinity') < 'infinity';
