/** A migration that PostgreSQL refused: rolled back, and recorded as not applied, so the next start tries it again. */
export class MigrationError extends Error {
  override name = 'MigrationError';

  constructor(
    /** The file name of the migration, e.g. `011_import_profiles.sql`. */
    readonly file: string,
    cause: unknown,
  ) {
    super(`Migration ${file} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
