-- A job's run claims its row for a lease that the running worker keeps renewing: a second delivery
-- of the same job (the reconciler queues a job again when Redis lost it, while a worker still runs
-- it) waits instead of running beside the first. A worker that dies stops renewing, so its claim
-- runs out and the job's next delivery runs it. The token names the run that holds the claim: only
-- it renews or releases it. Not part of the job resource: updating these announces no change (see
-- jobs_announce_change).
ALTER TABLE jobs ADD COLUMN run_claimed_until timestamptz, ADD COLUMN run_claim_token uuid;
