-- Enrichment (API.md §4 "Enrichment rules"): the local derivations of each product, in their own
-- columns so they can be indexed and filtered, and the checkpoint that lets a resumed enrichment
-- continue where the last attempt stopped instead of calling the lookup provider again.
-- Nullable columns without defaults: adding them rewrites nothing, and imports do not set them.

ALTER TABLE products
  -- The EAN left-padded with zeros to 14 digits; NULL when the EAN is not 8, 12, 13 or 14 digits.
  ADD COLUMN gtin14 text COLLATE "C",
  -- GTIN shape and right GS1 check digit.
  ADD COLUMN ean_check_digit_valid boolean,
  -- The 3-digit GS1 prefix and the country (GS1 Member Organisation) or use it is allocated to.
  ADD COLUMN gs1_prefix text COLLATE "C",
  ADD COLUMN gs1_prefix_country text,
  -- Comparison forms of name and brand: NFKC, white space collapsed and trimmed, lower case.
  ADD COLUMN name_normalized text,
  ADD COLUMN brand_normalized text,
  -- When an enrichment last wrote the derivations (NULL: never enriched).
  ADD COLUMN derived_at timestamptz;

CREATE TABLE enrichment_checkpoints (
  job_id         uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  -- Products already settled (their writes and report rows are committed), in job order.
  position       bigint NOT NULL DEFAULT 0,
  -- Whole-catalog and filter jobs go through the catalog in EAN order: the last EAN settled.
  last_ean       text COLLATE "C",
  -- Products created after the first attempt started are not part of the job.
  snapshot_at    timestamptz NOT NULL DEFAULT now(),
  rows_total     bigint NOT NULL,
  rows_changed   bigint NOT NULL DEFAULT 0,
  rows_unchanged bigint NOT NULL DEFAULT 0,
  rows_failed    bigint NOT NULL DEFAULT 0,
  -- Set once the provider said the monthly quota is used up: no attempt calls it again.
  quota_detail   text
);
