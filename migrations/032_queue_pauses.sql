-- The job queues an operator paused from the queue dashboard (Pause, Pause all), by BullMQ queue
-- name (`imports`, `exports`, `enrichments`); Resume and Resume all delete the row. BullMQ keeps a
-- pause in Redis alone, so a Redis that loses its data (FLUSHALL, a restart without persistence,
-- a failover to an empty replica) loses it, and the reconciler would queue the lost jobs again
-- into a running queue. Each reconciler pass pauses again a queue listed here that Redis says is
-- not paused, before it queues anything (src/workers/queue-pauses.ts).
CREATE TABLE queue_pauses (
  queue text PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now()
);
