-- Cheap catalog queries: every filter of GET /v1/products is served by an index, so no client
-- can make one page cost a scan of the whole table. The price is paid by writes, so each index is
-- chosen for what it costs an import (measured on a 1M-row first load, bench:import: 10.9 s with
-- none of them; 35.9 s with a plain trigram GIN index and (account_id, brand|category, ean)
-- btrees; 18.3 s with the indexes below).

-- `q` (name contains, ILIKE '%…%'): a btree cannot serve a leading wildcard; trigrams can. New
-- entries go to the GIN pending list (fastupdate) and are merged into the index by (auto)vacuum,
-- not row by row inside an import's transaction. The trigram extraction itself is the +7 s above.
-- (010_name_search.sql drops this index: the trigrams moved to product_search, off the import.)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops)
  WITH (fastupdate = on, gin_pending_list_limit = 65536);

-- `brand` and `category`: the account and the filter only. Rows of one value are added at the end
-- of that value's run (ordered by heap position), so an import appends instead of writing to a
-- random page per row, which an (account_id, brand, ean) index costs (about +19 s on 1M rows). A
-- page of one brand reads that value's entries and sorts them by EAN (top-N); every list query
-- runs under the API's statement timeout.
CREATE INDEX products_account_brand_idx ON products (account_id, brand);
CREATE INDEX products_account_category_idx ON products (account_id, category);

-- The stored export bytes of an account (EXPORT_STORAGE_BYTES_PER_ACCOUNT), summed before every
-- export: only jobs whose result file is still kept.
CREATE INDEX jobs_account_result_idx ON jobs (account_id) INCLUDE (result_bytes) WHERE result_path IS NOT NULL;
