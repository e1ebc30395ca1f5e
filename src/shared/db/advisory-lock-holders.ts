/**
 * The statement that ends the other sessions of this database holding the advisory lock on the
 * bigint key that `keySql` computes (from the statement's parameters), one row `{pid, ended}` per
 * session. pg_locks shows a lock on a bigint key with its high 32 bits in `classid`, its low 32
 * bits in `objid` and `objsubid` 1 (2 is a lock on two int4 keys), in either mode. The service's
 * role may end its own role's sessions; ending another role's throws.
 */
export function endAdvisoryLockHoldersSql(keySql: string): string {
  return `
  WITH key AS MATERIALIZED (SELECT ${keySql} AS key),
       holders AS MATERIALIZED (
    SELECT DISTINCT l.pid FROM pg_locks l, key
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = ((key.key >> 32) & 4294967295)::oid
       AND l.objid = (key.key & 4294967295)::oid
       AND l.pid <> pg_backend_pid())
  SELECT pid, pg_terminate_backend(pid) AS ended FROM holders`;
}
