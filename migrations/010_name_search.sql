-- Name, brand and category search (GET /v1/products?q=, ?brand=, ?category=) at no cost to an
-- import. A trigram index on products.name made every import extract the trigrams of every name it
-- wrote, inside its transaction: a 1M-row first load took 18.3 s instead of 10.9 s (bench:import);
-- with that gone, the (account_id, brand) and (account_id, category) btrees of 009 still took one
-- scrambled 1M-row first load from 12.4 s to 16.1 s. The three filters now live in a table of
-- their own, which imports never write:
--
-- * product_search holds (account, EAN, name, brand, category) with the trigram index on name and
--   btrees on (account, brand) and (account, category). The API's product writes
--   (POST/PUT/PATCH/DELETE) and enrichment keep it current in their own transaction (one row
--   each), under a shared per-account advisory lock (see src/shared/product/product-search.ts).
-- * An import writes one row instead, its account's mark in product_search_backlog: "products of
--   this account were written since `since` that product_search may not have yet". It commits
--   with the products, so no reader sees the products without the mark. After the job has ended,
--   the worker brings product_search up to date in batches and removes the mark if no import set
--   it again meanwhile (`version`); the reconciler finishes any mark a crash left behind.
-- * A list filtered by q, brand or category of an account with a mark reads products itself
--   (bounded by the API's statement timeout); otherwise it finds candidates through
--   product_search's indexes and checks each one's current name, brand and category in products,
--   so an answer is always exact.
--
-- This migration may run after 011 and 012 on a database that already has them: it touches
-- neither import profiles nor job events.

DROP INDEX IF EXISTS products_name_trgm_idx;
DROP INDEX IF EXISTS products_account_brand_idx;
DROP INDEX IF EXISTS products_account_category_idx;

CREATE TABLE product_search (
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  ean        text COLLATE "C" NOT NULL,
  name       text NOT NULL,
  brand      text,
  category   text,
  PRIMARY KEY (account_id, ean)
);

-- Filled before its index is built: one sort instead of an index insert per row. Products of an
-- account that no longer exists have no search entry (nobody can list them).
INSERT INTO product_search (account_id, ean, name, brand, category)
SELECT p.account_id, p.ean, p.name, p.brand, p.category FROM products p WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id);

-- fastupdate (the default): new entries wait in the pending list and are merged into the index
-- in sorted bulk, several times cheaper than one index insert per trigram for a catch-up of a
-- large import; the catch-up flushes the list when it is done, so a search scans a short one.
CREATE INDEX product_search_name_trgm_idx ON product_search USING gin (name gin_trgm_ops);

-- `brand` and `category`: the account and the filter only, as 009 had them on products. A page of
-- one value reads that value's candidates, keeps those whose product still has it, and sorts them
-- by EAN (top-N), under the API's statement timeout.
CREATE INDEX product_search_account_brand_idx ON product_search (account_id, brand);
CREATE INDEX product_search_account_category_idx ON product_search (account_id, category);

CREATE TABLE product_search_backlog (
  account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  -- Start of the oldest import whose products may be missing from product_search.
  since      timestamptz NOT NULL,
  -- A new value at every import that marks the account: a catch-up removes the mark only if it
  -- still holds the value read before the catch-up began.
  version    bigserial NOT NULL
);
