import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type pg from 'pg';
import { inlinePath } from '../../src/shared/storage/inline-uploads.js';

/** Every regular file under `dir`, recursively (empty when `dir` does not exist). */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Every upload the service keeps, as the input paths jobs name them: the files under
 * `<dataDir>/uploads` and the small uploads kept in PostgreSQL (`inline/<job id>`), sorted.
 */
export async function storedUploads(db: pg.Pool, dataDir: string): Promise<string[]> {
  const files = (await filesUnder(join(dataDir, 'uploads'))).map((file) => relative(dataDir, file));
  const { rows } = await db.query<{ job_id: string }>('SELECT job_id FROM inline_uploads');
  return [...files, ...rows.map((row) => inlinePath(row.job_id))].sort();
}
