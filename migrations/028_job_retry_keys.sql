-- An Idempotency-Key on POST /v1/jobs/{id}/retry (API.md §4: on any POST that starts a job): a
-- repeat within 24 hours answers with the job as it is instead of running it again, and the key
-- with another job is a 422. Retries have their keys apart from the jobs' own (a job keeps the key
-- it was started with in jobs.idempotency_key), as export schedules do (migration 018). The key is
-- written in the transaction that puts the job back to processing, so a repeat sent meanwhile
-- waits for it and then answers as a repeat. The cleanup removes keys older than 24 hours.
CREATE TABLE job_retry_keys (
  account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  idempotency_key text NOT NULL,
  job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX job_retry_keys_job_idx ON job_retry_keys (job_id);
CREATE INDEX job_retry_keys_created_idx ON job_retry_keys (created_at);
