-- Exports: the result file of an export job, the schedule that started it, and the schedules.

-- The export file relative to DATA_DIR (NULL until the export completed, and again once the
-- retention cleanup removed it), its size, and the schedule whose tick created the job. No
-- foreign key on schedule_id: a job keeps naming its schedule after the schedule is deleted.
ALTER TABLE jobs
  ADD COLUMN result_path  text,
  ADD COLUMN result_bytes bigint,
  ADD COLUMN schedule_id  uuid;
CREATE INDEX jobs_result_finished_idx ON jobs (finished_at) WHERE result_path IS NOT NULL;

CREATE TABLE export_schedules (
  id         uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  -- Five-field cron expression, read in `timezone` (an IANA name).
  cron       text NOT NULL,
  timezone   text NOT NULL,
  -- The export each tick starts, with its defaults filled in (as a job's options).
  export     jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_schedules_account_idx ON export_schedules (account_id, created_at DESC, id DESC);
