import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * Which code was measured: the commit, whether src/ or migrations/ differ from it, and a hash
 * of their current contents (others may be editing the working tree while the benchmark runs).
 */
export function codeFingerprint(repoRoot: string): string {
  const hash = createHash('sha256');
  for (const file of ['src', 'migrations'].flatMap((dir) => files(join(repoRoot, dir))).sort()) {
    hash.update(relative(repoRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  let commit = 'unknown';
  let dirty = '';
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit = git('rev-parse', '--short', 'HEAD');
    const changed = git('status', '--porcelain', '--', 'src', 'migrations').split('\n').filter(Boolean).length;
    if (changed > 0) dirty = ` + ${changed} changed file(s) in src/migrations`;
  } catch {
    // not a git checkout
  }
  return `commit ${commit}${dirty}, src+migrations sha256 ${hash.digest('hex').slice(0, 12)}`;
}
