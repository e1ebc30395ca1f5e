import { describe, expect, it } from 'vitest';
import { expectationProblems, matchesLoosely, parseLooseJson } from '../support/readme-expectations.js';
import { readmeCommands } from '../support/readme-steps.js';

const ID = '0b7c4f5e-9a1d-4c1e-8f3a-2d6b5e4c3a21';

describe('README answers', () => {
  it('matches an object with exactly the keys shown, or at least them when it ends in …', () => {
    expect(matchesLoosely(parseLooseJson('{"a":1,"b":"x"}'), { a: 1, b: 'x' })).toBe(true);
    expect(matchesLoosely(parseLooseJson('{"a":1}'), { a: 1, b: 'x' })).toBe(false);
    expect(matchesLoosely(parseLooseJson('{"a":1,…}'), { a: 1, b: 'x' })).toBe(true);
    expect(matchesLoosely(parseLooseJson('{"a":2,…}'), { a: 1, b: 'x' })).toBe(false);
  });

  it('reads … as any value, <id> as a UUID, and … inside a string as any text', () => {
    const expected = parseLooseJson('{"id":"<id>","progress":{…},"at":…,"key":"ck_…","links":[…]}');
    expect(matchesLoosely(expected, { id: ID, progress: { rows: 1 }, at: null, key: 'ck_abc', links: [1, 2] })).toBe(true);
    expect(matchesLoosely(expected, { id: 'job-1', progress: {}, at: 1, key: 'ck_abc', links: [] })).toBe(false);
    expect(matchesLoosely(expected, { id: ID, progress: {}, at: 1, key: 'cs_abc', links: [] })).toBe(false);
  });

  it('checks the status, headers and body of an answer', () => {
    const response = `HTTP/1.1 202 Accepted\r\nlocation: /v1/jobs/${ID}\r\n\r\n{"id":"${ID}","status":"processing"}`;
    const expectation = '202, Location: /v1/jobs/<id>, {"id":"<id>","status":"processing"}';
    expect(expectationProblems(expectation, { stdout: response, statuses: [] })).toEqual([]);
    expect(expectationProblems(expectation.replace('202', '201'), { stdout: response, statuses: [] })).toEqual([
      'status 202, not 201',
    ]);
    expect(expectationProblems('404 {"error":"Product not found",…}', { stdout: '{"error":"Product not found","detail":"x"}', statuses: [404] })).toEqual([]);
  });

  it('finds expected lines in order, reading an SSE data line as JSON', () => {
    const stream = `id: 3\nevent: job\ndata: {"status":"processing"}\n\nid: 4\nevent: end\ndata: {"status":"failed","phase":"done"}\n`;
    expect(expectationProblems('event: end\ndata: {"status":"failed",…}', { stdout: stream, statuses: [] })).toEqual([]);
    expect(expectationProblems('event: end\ndata: {"status":"completed",…}', { stdout: stream, statuses: [] })).toHaveLength(1);
  });

  it('splits a shell block into commands with the answers shown after them', () => {
    const block = [
      "curl -s -X POST localhost:3000/v1/import-profiles \\",
      "  -d '{\"name\":\"akeneo\",",
      "       \"delimiter\":\";\"}'",
      '# → 201 {"name":"akeneo",',
      '#        "delimiter":";",…}',
      '# a remark, not an answer',
      "cat > a.csv <<'CSV'",
      'ean,name',
      'CSV',
      'echo $?   # → 0',
    ].join('\n');
    expect(readmeCommands(block)).toEqual([
      {
        text: "curl -s -X POST localhost:3000/v1/import-profiles \\\n  -d '{\"name\":\"akeneo\",\n       \"delimiter\":\";\"}'",
        expected: '201 {"name":"akeneo",\n"delimiter":";",…}',
      },
      { text: "cat > a.csv <<'CSV'\nean,name\nCSV", expected: null },
      { text: 'echo $?   # → 0', expected: '0' },
    ]);
  });
});
