import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVICE_ENV, SERVICE_V8_FLAGS, serviceNodeFlags } from '../../src/shared/node-flags.js';

const root = new URL('../../', import.meta.url);
const startScript = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8').split('\n');
const dockerCommand = dockerfile.find((line) => line.startsWith('CMD '))!;

describe('the node flags the service runs with', () => {
  it('are the same in npm start, the Dockerfile and for benchmarks and tests', () => {
    for (const command of [startScript, dockerCommand]) {
      expect(command).toContain('--max-old-space-size=${NODE_HEAP_MB:-128}');
      for (const flag of SERVICE_V8_FLAGS) expect(command).toContain(flag);
    }
    expect(serviceNodeFlags(256)).toEqual(['--max-old-space-size=256', ...SERVICE_V8_FLAGS]);
  });

  it('come with the same malloc settings from npm start and the Dockerfile, which an operator may override', () => {
    for (const [name, value] of Object.entries(SERVICE_ENV)) {
      expect(startScript).toContain(`${name}=\${${name}:-${value}} exec node `);
      expect(dockerfile).toContain(`ENV ${name}=${value}`);
    }
  });

  it('are node\'s own: npm start and the Dockerfile hand their shell over to node, so a SIGTERM to them reaches the service', () => {
    for (const command of [startScript, dockerCommand]) expect(command).toMatch(/(^|[ "])exec node /);
  });

  it('are accepted by this node, and the young generation is the smaller one', () => {
    const heapLimitMb = (flags: string[]) =>
      Number(
        execFileSync(process.execPath, [...flags, '-e', "console.log(require('node:v8').getHeapStatistics().heap_size_limit >> 20)"], {
          encoding: 'utf8',
        }).trim(),
      );
    // The limit counts the young generation too: halving the semi-spaces takes at least 2 × 8 MB off it.
    const service = heapLimitMb(serviceNodeFlags(128));
    const defaults = heapLimitMb(['--max-old-space-size=128']);
    expect(service).toBeGreaterThanOrEqual(128);
    expect(defaults - service).toBeGreaterThanOrEqual(16);
  });
});
