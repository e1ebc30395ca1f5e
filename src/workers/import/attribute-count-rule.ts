import type { DbClient } from '../../shared/db/pool.js';
import { ATTRIBUTE_COUNT_MESSAGE, attributeNameCountSql, MAX_ATTRIBUTES } from '../../shared/product/attribute-rules.js';
import { mergedAttributes, type MergeShape, type RejectedRow } from './chunk-sql.js';
import { lockStoredProducts } from './stored-row-locks.js';

/**
 * Whether merging the file's rows can give a stored product attribute names it did not have: only
 * a file with attribute columns or the `attributes` JSON column sets attributes. A row's own names
 * are checked in the worker as a body's are (at most 1,000); what they merge into is checked by
 * {@link rejectTooManyAttributes}.
 */
export const mergeSetsAttributes = (shape: MergeShape): boolean => shape.attributeNames.length > 0 || shape.attributesJson;

/**
 * Takes out of the chunk table the rows whose merged product would have more attribute names than
 * a product may have, as an `INVALID_ATTRIBUTES` problem on `attributes` with the message a body
 * of too many names gets: the API refuses such a product everywhere else (POST, PUT, a PATCH's
 * merge), so an import does not make one. The count is of the merge's own result (see
 * mergedAttributes; $2: the file's attribute columns). Only rows that set an attribute are looked
 * up, one index probe each; a new EAN has no stored product and its own names were checked.
 * Unless `lock` is false (a dry run) the stored products a row adds names to are locked first, so
 * that no other writer adds names between the count and the merge (see lockStoredProducts). A row
 * that adds none is not: another writer that removes one of its names and adds another meanwhile
 * can still leave the product one name over the limit after the merge (it puts the name back).
 */
export async function rejectTooManyAttributes(tx: DbClient, accountId: string, shape: MergeShape, lock = true): Promise<RejectedRow[]> {
  const setsNames = `c.attributes <> '{}'::jsonb`;
  // Only a row that gives its product a name it does not have can take it past the limit, so only
  // those products are locked: a re-import of the same names (most rows of most re-imports) locks
  // nothing, where locking every row that sets a name made an unchanged re-import twice as slow.
  if (lock) await lockStoredProducts(tx, accountId, `${setsNames} AND NOT (p.attributes ?& ARRAY(SELECT jsonb_object_keys(c.attributes)))`);
  const { rows } = await tx.query<{ row: number }>(
    `DELETE FROM import_chunk c WHERE ${setsNames} AND (
       SELECT ${attributeNameCountSql(mergedAttributes('c.attributes'))}
       FROM products p WHERE p.account_id = $1 AND p.ean = c.ean) > ${MAX_ATTRIBUTES}
     RETURNING c.row`,
    [accountId, shape.attributeNames],
  );
  return rows.map(({ row }) => ({ row, field: 'attributes', code: 'INVALID_ATTRIBUTES', message: ATTRIBUTE_COUNT_MESSAGE }));
}
