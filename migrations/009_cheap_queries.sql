-- Cheap catalog queries: every filter of GET /v1/products is served by an index, so no client
-- can make one page cost a scan of the whole table. The price is paid by writes: every imported
-- row also updates these three indexes (measured on a 300k-row first load: PostgreSQL CPU about
-- 3 s without them, 12 s with them; the trigram index about a third of that, the two btrees the rest).

-- `q` (name contains, ILIKE '%…%'): a btree cannot serve a leading wildcard; trigrams can.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);

-- `brand` and `category`: the account, the filter, then the paging order (ean), so a page is one
-- range scan that starts after the cursor and stops after `limit` rows, with no sort.
CREATE INDEX products_account_brand_idx ON products (account_id, brand, ean);
CREATE INDEX products_account_category_idx ON products (account_id, category, ean);

-- The stored export bytes of an account (EXPORT_STORAGE_BYTES_PER_ACCOUNT), summed before every
-- export: only jobs whose result file is still kept.
CREATE INDEX jobs_account_result_idx ON jobs (account_id) INCLUDE (result_bytes) WHERE result_path IS NOT NULL;
