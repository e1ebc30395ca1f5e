#!/usr/bin/env node
// The `catalog` command (package.json "bin"): the compiled CLI after `npm run build`, else, in a
// clone that was not built, the TypeScript source through tsx (a dev dependency).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
