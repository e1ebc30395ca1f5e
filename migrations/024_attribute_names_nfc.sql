-- Attribute names are stored in Unicode NFC and looked up so (storedAttributeName): an export's
-- attributes.<key>, a PATCH and its removal by name, an import's attribute columns. Releases
-- before kept a name as sent, so a product may hold one decomposed (Größe as o and a combining
-- diaeresis, as macOS writes), which the service no longer finds: an export wrote an empty cell,
-- a PATCH added a second name that looks the same, and a GET sent back as a PUT was refused (one
-- name given twice). Each such name is put in NFC. Where a product holds one name in two forms,
-- which those releases took, the value of the form already in NFC is kept: it is the one every
-- process of this release has read and written since it started (a PATCH or an import after the
-- upgrade changed that one, not the other); of two forms neither in NFC, the first in text order.
-- Only products holding a name not in NFC are rewritten, and their updated_at is kept: they hold
-- the names the service already took them for, with the values it showed. A profile's, a
-- schedule's and a job's `attributes.<key>` are left as written: the import and the export put the
-- key in NFC where they use it. Running this again changes only names written since in another
-- form (by an older API process still serving). PostgreSQL normalizes text only in a UTF-8
-- database (a database created with the defaults is one); in another, names are left as they are.
DO $$
BEGIN
  IF current_setting('server_encoding') <> 'UTF8' THEN
    RETURN;
  END IF;
  UPDATE products p
     SET attributes = (
           SELECT jsonb_object_agg(name, value)
             FROM (SELECT DISTINCT ON (normalize(key, NFC)) normalize(key, NFC) AS name, value
                     FROM jsonb_each(p.attributes)
                    ORDER BY normalize(key, NFC), key IS NFC NORMALIZED DESC, key) AS stored)
   WHERE EXISTS (SELECT FROM jsonb_object_keys(p.attributes) AS key WHERE key IS NOT NFC NORMALIZED);
END $$;
