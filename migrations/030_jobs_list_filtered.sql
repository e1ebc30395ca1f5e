-- GET /v1/jobs?type=…|status=… of one account (its own key, or the operator's with account_id):
-- the account's index (jobs_account_created_idx) gives its jobs newest first, and a type or
-- status the account seldom or never has was found by walking all of them (an account of 300k
-- jobs and no enrichment: every one of them read, 1 s cold, for an empty page of
-- ?type=enrichment). This index keeps each type's and ended status's jobs of an account newest
-- first: the listing reads one range per type and status its filters let through (at most
-- three, or four with the jobs in flight) and merges them, about a page of rows
-- (src/shared/jobs/job-list-queries.ts). One index for both filters and their pair, where one
-- per filter would leave the pair (?type=import&status=failed) to walk one of them. As in
-- migration 029, jobs still `processing` are left out (accepting a job writes nothing to it;
-- they are read from jobs_processing_idx) and a job enters it when it ends.
-- Plain CREATE INDEX: migrate.ts runs each file in a transaction, where CONCURRENTLY is refused.
-- It holds a SHARE lock on jobs while it builds, so new jobs, progress and endings wait for it:
-- about 2 s per million jobs on the 2-core development machine; reads go on.
CREATE INDEX jobs_account_type_status_created_idx ON jobs (account_id, type, status, created_at DESC, id DESC)
  WHERE status <> 'processing';
