-- callback_url of API.md §4: when a job ends, its resource is POSTed there. The jobs table is the
-- outbox: a delivery is pending while callback_url is set, the job has ended and it is neither
-- delivered nor given up; workers claim due deliveries with SKIP LOCKED, so nothing is lost when a
-- process dies and no delivery is made twice at once.
ALTER TABLE jobs
  ADD COLUMN callback_url          text,
  ADD COLUMN callback_attempts     integer NOT NULL DEFAULT 0,
  ADD COLUMN callback_next_at      timestamptz,
  ADD COLUMN callback_delivered_at timestamptz,
  ADD COLUMN callback_last_error   text;

CREATE INDEX jobs_callback_pending_idx ON jobs (callback_next_at)
  WHERE callback_url IS NOT NULL AND callback_delivered_at IS NULL AND status <> 'processing';
