-- GET /v1/jobs?schedule_id=: an export schedule's runs, newest first, and the newest completed one,
-- which a fetcher of the schedule's feed asks for. The account's index (jobs_account_created_idx)
-- would read every job of the account back to the schedule's latest run, and all of them for a
-- schedule with no runs (a new or unknown one): on an account of 1M jobs the query read the whole
-- table (140 ms) where this index reads a few entries. Only scheduled runs are in it, so an
-- import or on-demand export does not write to it. A schedule is one account's: the account's
-- condition is checked on the rows the index gives.
CREATE INDEX jobs_schedule_created_idx ON jobs (schedule_id, created_at DESC, id DESC) WHERE schedule_id IS NOT NULL;
