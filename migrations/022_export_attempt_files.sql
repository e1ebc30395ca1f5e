-- The file each export attempt writes, noted before it writes a byte: every attempt has a name of
-- its own, and an attempt whose process died after its file was complete (a `.part` renamed, a
-- multipart upload completed) left that file with no job pointing at it. The attempt that records
-- its file as the job's result deletes its row in the same statement, so what stays here is never
-- a result: the periodic cleanup removes these files once their job has ended (a day after, so an
-- attempt still stopping removes its own first), then their rows. A recording that finds its row
-- gone (the cleanup took it) records nothing.
CREATE TABLE export_attempt_files (
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  path   text NOT NULL,
  PRIMARY KEY (job_id, path)
);
