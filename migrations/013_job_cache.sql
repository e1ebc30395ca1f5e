-- The job cache of each API process (src/api/job-cache.ts) drops a job when its change is announced
-- on 'job_events', so every change a client can see on the job resource must be announced. The
-- rows_csv link depends on input_path, which the upload retention clears: it joins the compared
-- columns (a stream sends the job again when it changes). A removed row (a job whose queueing
-- failed) is announced too, so no process keeps answering it.
CREATE OR REPLACE FUNCTION jobs_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.status, NEW.phase, NEW.error_code, NEW.detail, NEW.rows_total, NEW.rows_processed,
      NEW.rows_succeeded, NEW.rows_failed, NEW.rows_created, NEW.rows_updated, NEW.rows_unchanged,
      NEW.started_at, NEW.finished_at, NEW.result_path, NEW.input_path)
     IS DISTINCT FROM
     (OLD.status, OLD.phase, OLD.error_code, OLD.detail, OLD.rows_total, OLD.rows_processed,
      OLD.rows_succeeded, OLD.rows_failed, OLD.rows_created, OLD.rows_updated, OLD.rows_unchanged,
      OLD.started_at, OLD.finished_at, OLD.result_path, OLD.input_path) THEN
    NEW.event_version := OLD.event_version + 1;
    PERFORM pg_notify('job_events', NEW.id::text);
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION jobs_announce_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('job_events', OLD.id::text);
  RETURN OLD;
END $$;

CREATE TRIGGER jobs_announce_removal AFTER DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_announce_removal();
