-- Idempotency-Key on POST /v1/export-schedules (API.md §4): a client retrying a creation after a
-- timeout gets the schedule its first attempt made instead of a second one that exports again at
-- every tick. As for jobs: the key is per account, released after 24 hours, and the request hash
-- tells a retry from another request under the same key. Deleting the schedule frees its key.
ALTER TABLE export_schedules
  ADD COLUMN idempotency_key text,
  ADD COLUMN request_hash    text;
CREATE UNIQUE INDEX export_schedules_idempotency_key ON export_schedules (account_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
