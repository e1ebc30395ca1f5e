-- GET /v1/jobs/{id}/events: every change a client can see on the job resource bumps the row's
-- event_version and sends its id on the 'job_events' channel. Both happen in the writing
-- transaction, so a notification is delivered only once PostgreSQL holds the state it announces
-- (and never for a rolled-back write), whichever process or code path wrote it. The version is the
-- SSE event id: monotonic per job, so Last-Event-ID resumes after the last state a client saw.
ALTER TABLE jobs ADD COLUMN event_version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION jobs_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.status, NEW.phase, NEW.error_code, NEW.detail, NEW.rows_total, NEW.rows_processed,
      NEW.rows_succeeded, NEW.rows_failed, NEW.rows_created, NEW.rows_updated, NEW.rows_unchanged,
      NEW.started_at, NEW.finished_at, NEW.result_path)
     IS DISTINCT FROM
     (OLD.status, OLD.phase, OLD.error_code, OLD.detail, OLD.rows_total, OLD.rows_processed,
      OLD.rows_succeeded, OLD.rows_failed, OLD.rows_created, OLD.rows_updated, OLD.rows_unchanged,
      OLD.started_at, OLD.finished_at, OLD.result_path) THEN
    NEW.event_version := OLD.event_version + 1;
    PERFORM pg_notify('job_events', NEW.id::text);
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER jobs_announce_change BEFORE UPDATE ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_announce_change();
