-- Small uploads (src/shared/storage/inline-uploads.ts) are kept here, written by the statement
-- that writes their job row: one commit makes both durable, and a removed job takes its upload
-- with it. The job's input_path is 'inline/<job id>'; the upload
-- retention removes the row as it removes a stored file.
CREATE TABLE inline_uploads (
  job_id uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  data bytea NOT NULL
);
