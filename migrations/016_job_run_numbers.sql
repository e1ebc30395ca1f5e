-- A job's run number: 1 for the run its acceptance queues, one more for each retry. Each BullMQ
-- delivery carries the run it was queued for, and a worker fails a job from a delivery's failure
-- (its attempts used up, or stalled too often) only while the row is still in that run: the
-- clean-up of an ended run that comes late, after a retry has started the next one, writes
-- nothing. Not part of the job resource: the retry that bumps it changes the status anyway.
ALTER TABLE jobs ADD COLUMN run_number integer NOT NULL DEFAULT 1;
