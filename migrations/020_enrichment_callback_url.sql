-- An enrichment's callback_url was kept in its options as well as in the callback outbox
-- (callback_url, migration 007), so the job resource showed it to any key with `jobs:read`; an
-- import's and an export's are kept only in the outbox, since a receiver's address often carries
-- its secret. Options of existing enrichments lose it. Where the outbox had none, it is moved
-- there: a job still under way calls it back when it ends, as asked, and a retry of an ended one
-- does too; the end of a job already ended is not announced now, long after it (given up, as a
-- delivery that ran out of attempts is).
UPDATE jobs
   SET callback_url = coalesce(callback_url, options->>'callback_url'),
       callback_next_at = CASE WHEN callback_url IS NULL AND status <> 'processing' THEN 'infinity'::timestamptz
                               ELSE callback_next_at END,
       options = options - 'callback_url'
 WHERE type = 'enrichment' AND options ? 'callback_url';
