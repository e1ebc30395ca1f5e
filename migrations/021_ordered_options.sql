-- A `columns` mapping ({header: target}) is ordered: an export without `fields` writes its headers
-- in the order given. jsonb keeps an object's keys sorted its own way (shorter first, then by
-- bytes), so an import profile came back with its headers in another order and an export of its
-- columns wrote them so. json keeps the text the service wrote, keys in their order; an export
-- schedule's `export` likewise. Rows stored before keep the order jsonb gave them. Nothing queries
-- these documents with jsonb's operators. Both tables hold a few rows per account. Job options stay
-- jsonb, as rewriting the jobs table would lock it for as long as a copy of it takes: an export
-- job keeps its columns as a list, in their order.
ALTER TABLE import_profiles ALTER COLUMN settings TYPE json USING settings::json;
ALTER TABLE export_schedules ALTER COLUMN export TYPE json USING export::json;
