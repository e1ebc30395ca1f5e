import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Where a download goes: a file (replaced when it exists, as `-o` of other tools does), or a folder
 * that gets the file under the name the service gives it (`fallbackName` if it gives none).
 */
export type DownloadTarget = { file: string } | { folder: string; fallbackName: string };

/** An error of the file system's, or null when `run` succeeds. */
async function fileSystemError(run: () => Promise<unknown>): Promise<NodeJS.ErrnoException | null> {
  try {
    await run();
    return null;
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
}

/**
 * Checks `path`, given with `option`, before the command sends anything: a file to write is found
 * unwritable now rather than after a job ran. A folder is refused, or with `folders: 'into'` taken
 * as the place of the file; a missing or read-only folder is a usage error either way.
 */
export async function checkOutputPath(
  path: string,
  option: string,
  folders: 'refuse' | 'into',
  fallbackName = '',
): Promise<DownloadTarget> {
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) {
    if (folders === 'refuse') throw new CliError(`${option} ${path}: is a folder; name a file.`, EXIT.usage);
    const denied = await fileSystemError(() => access(path, constants.W_OK));
    if (denied) throw new CliError(`${option} ${path}: cannot write into that folder (${denied.code ?? denied.message}).`, EXIT.usage);
    return { folder: path, fallbackName };
  }
  // "out/" names a folder, which does not exist: not a file to create beside it.
  if (!info && /[/\\]$/.test(path)) throw new CliError(`${option} ${path}: no such folder.`, EXIT.usage);
  const denied = await fileSystemError(() => access(dirname(resolve(path)), constants.W_OK));
  if (denied) throw new CliError(`${option} ${path}: cannot write into its folder (${denied.code ?? denied.message}).`, EXIT.usage);
  return { file: path };
}

/** Whether `first` and `second` name one file (also through a link); false when either is missing. */
export async function isSameFile(first: string, second: string): Promise<boolean> {
  if (resolve(first) === resolve(second)) return true;
  const [a, b] = await Promise.all([stat(first).catch(() => null), stat(second).catch(() => null)]);
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Creates the first of `candidates` where nothing is (a file, a folder or a link alike), empty and
 * exclusively (`wx`), and returns it; null when all are taken. A name the CLI chose itself never
 * replaces what the user has, and two runs choosing at once never get the same one: the second
 * finds the first's file and takes the next name. A name that cannot be created for another
 * reason (too long, a folder that cannot be written) fails with that reason.
 */
export async function reserveFreePath(candidates: string[]): Promise<string | null> {
  for (const candidate of candidates) {
    try {
      await (await open(candidate, 'wx')).close();
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new CliError(`Could not create ${candidate}: ${code ?? (error as Error).message}`, EXIT.usage);
    }
  }
  return null;
}
