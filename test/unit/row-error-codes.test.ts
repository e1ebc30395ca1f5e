import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JOB_ERROR_CODES } from '../../src/shared/jobs/job-row.js';
import { ROW_ERROR_CODES } from '../../src/shared/jobs/row-error-codes.js';

/**
 * The OpenAPI document lists a report entry's `code` from ROW_ERROR_CODES, and every worker types
 * the code it writes as one of them. This scan catches what a type would not: a code-like name
 * written into the report through a plain string (a COPY row, a SQL text).
 */
const root = fileURLToPath(new URL('../../src/', import.meta.url));

/** Upper-case names in that code that are no report code: a job's own codes, and csv-parse's and unzipper's error codes. */
const NOT_REPORT_CODES = new Set<string>([
  ...JOB_ERROR_CODES,
  'CSV_QUOTE_NOT_CLOSED',
  'CSV_INVALID_CLOSING_QUOTE',
  'CSV_MAX_RECORD_SIZE',
  'INVALID_OPENING_QUOTE',
  'FILE_ENDED',
]);

function sources(folder: string): string[] {
  return readdirSync(`${root}${folder}`, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => readFileSync(`${root}${folder}/${name}`, 'utf8'));
}

describe("a job's report codes", () => {
  it('are every code-like name the workers and the product rules write (REQUIRED, INVALID_CHECK_DIGIT, PROVIDER_ERROR, …)', () => {
    const text = [...sources('workers'), ...sources('shared/product')].join('\n');
    const named = new Set([...text.matchAll(/'([A-Z][A-Z0-9]*_[A-Z0-9_]+|REQUIRED)'/g)].map((match) => match[1]!));
    expect(named.size).toBeGreaterThan(30);
    const listed = new Set<string>(ROW_ERROR_CODES);
    expect([...named].filter((name) => !listed.has(name) && !NOT_REPORT_CODES.has(name))).toEqual([]);
    // And no code is listed that nothing writes.
    expect(ROW_ERROR_CODES.filter((code) => !named.has(code))).toEqual([]);
  });
});
