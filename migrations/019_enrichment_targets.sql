-- The products of a whole-catalog or filter enrichment (README "Enrichment"): those that matched
-- when the job started, taken then in one statement and numbered in EAN order. The job reads its
-- pages by that number, so a product deleted, created or changed while it runs neither leaves
-- the job without an outcome nor joins it, and `rows_total` stays the number it goes through. The
-- EANs stay in PostgreSQL (a million of them would not fit a worker's memory), a thousand to a
-- row: TOAST compresses them, and a million-product job keeps 10.6 MB, taken in 2-3 s, where a
-- row per product kept 109 MB, taken in 8-16 s (README "Enrichment"). They are deleted when the
-- job completes; a failed or cancelled job keeps them for a retry, which goes on with them, until
-- the periodic cleanup removes its checkpoint and them with it.
CREATE TABLE enrichment_targets (
  job_id        uuid NOT NULL REFERENCES enrichment_checkpoints (job_id) ON DELETE CASCADE,
  -- The place in the job (1-based) of the first of `eans`; the others follow it. A product's
  -- place is its `row` in the report, and the checkpoint's `position` once it is settled.
  first_ordinal bigint NOT NULL,
  -- At most TARGETS_PER_ROW (src/workers/enrich/target-queries.ts) EANs, in EAN order.
  eans          text[] COLLATE "C" NOT NULL,
  PRIMARY KEY (job_id, first_ordinal)
);

-- Whether the checkpoint's `rows_total` counts the job's taken products. A checkpoint written
-- before this migration (a job under way across the upgrade) has none taken: its next attempt
-- takes the products after its `last_ean` that the job covered, numbered on from its `position`.
ALTER TABLE enrichment_checkpoints ADD COLUMN targets_taken boolean NOT NULL DEFAULT false;

-- Where the job stood just before the first product the provider's monthly quota left not looked
-- up: its position, last EAN and counts then (all NULL until a quota answer). The products after
-- it were settled as PROVIDER_QUOTA_EXCEEDED, so a retry, which forgets the quota, resumes here
-- rather than after them, looking them up then and counting each once (README "Resumable").
ALTER TABLE enrichment_checkpoints
  ADD COLUMN quota_position bigint,
  ADD COLUMN quota_last_ean text COLLATE "C",
  ADD COLUMN quota_rows_changed bigint,
  ADD COLUMN quota_rows_unchanged bigint,
  ADD COLUMN quota_rows_failed bigint;
