-- product_search's brand and category indexes hold only the rows that have a brand (a category):
-- the only queries they serve, GET /v1/products?brand= and ?category=, compare with `=`, which no
-- NULL matches. The reason is the catch-up after an import (src/workers/search): its statements
-- name the account and an EAN range or one EAN, which only the primary key serves, and an index
-- that led with the account alone could serve them too, reading every entry of the account and
-- filtering on the EAN. Right after a first load the planner's statistics know no rows of the
-- account (they date from before it), so both looked like one row, and the planner picked the
-- wrong one: each probe read every search row written so far, a 50k-row catch-up took 105 s
-- instead of 0.8 s and held the account's search lock, so its API writes waited and failed with
-- 503. A partial index is usable only by a query that implies its predicate (`brand = $n` implies
-- `brand IS NOT NULL`), so these statements now have the primary key as their only index, whatever
-- the statistics say. Rows without a brand or category are no longer written to these indexes.
DROP INDEX product_search_account_brand_idx;
CREATE INDEX product_search_account_brand_idx ON product_search (account_id, brand) WHERE brand IS NOT NULL;
DROP INDEX product_search_account_category_idx;
CREATE INDEX product_search_account_category_idx ON product_search (account_id, category) WHERE category IS NOT NULL;
