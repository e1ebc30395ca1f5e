import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../src/shared/queues.js';
import { EXPORT_SCHEDULE_QUEUE } from '../../src/shared/schedules/export-scheduler.js';

/**
 * docs/architecture.md is written by hand; these checks keep its maps from drifting away from
 * the code: a new table, route module or queue must be described, and a moved file re-pointed.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const page = readFileSync(`${root}docs/architecture.md`, 'utf8');

/** The page's text from heading `title` to the next heading of the same level. */
function section(title: string): string {
  const start = page.indexOf(`\n## ${title}\n`);
  expect(start, `section "## ${title}"`).toBeGreaterThanOrEqual(0);
  const end = page.indexOf('\n## ', start + 1);
  return page.slice(start, end === -1 ? undefined : end);
}

describe('docs/architecture.md', () => {
  it('describes every table the migrations create', () => {
    const tables = readdirSync(`${root}migrations`)
      .filter((name) => name.endsWith('.sql'))
      .flatMap((name) => [...readFileSync(`${root}migrations/${name}`, 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gi)])
      .map((match) => match[1]!);
    expect(tables.length).toBeGreaterThan(10);
    const described = section('Tables');
    expect(tables.filter((table) => !described.includes(`| \`${table}\` |`))).toEqual([]);
  });

  it('names only source files and folders that exist', () => {
    const paths = [...page.matchAll(/`((?:src|migrations|scripts|test|bench|bin)\/[^`*<>\s]*)`/g)].map((match) => match[1]!);
    expect(paths.length).toBeGreaterThan(50);
    expect(paths.filter((path) => !existsSync(`${root}${path}`))).toEqual([]);
  });

  it('names every folder of src/workers in the layout', () => {
    const folders = readdirSync(`${root}src/workers`, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const layout = section('Where to find the code');
    const workersLine = /\n {2}workers\/[^]*?\n {2}shared\//.exec(layout)?.[0] ?? '';
    expect(folders.map((folder) => folder.name).filter((name) => !workersLine.includes(`${name}/`))).toEqual([]);
  });

  it('maps every route module to its paths', () => {
    const modules = readdirSync(`${root}src/api/routes`).map((name) => `src/api/routes/${name}`);
    const routeMap = section('Where to find the code');
    expect(modules.filter((module) => !routeMap.includes(`\`${module}\``))).toEqual([]);
  });

  it('maps every BullMQ queue to its processor', () => {
    const queues = [...Object.values(QUEUE_NAMES), EXPORT_SCHEDULE_QUEUE];
    const queueMap = section('Where to find the code');
    expect(queues.filter((queue) => !queueMap.includes(`| \`${queue}\` |`))).toEqual([]);
  });
});
