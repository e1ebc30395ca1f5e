import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { Utf8Transcoder } from '../../src/workers/import/utf8-transcoder.js';

/** What the transcoder gives for `file` read in two chunks cut at `at`, as text. */
async function transcode(file: Buffer, at: number, encoding: 'utf-16be' | 'utf-16le'): Promise<string> {
  const received: Buffer[] = [];
  for await (const chunk of Readable.from([file.subarray(0, at), file.subarray(at)]).pipe(new Utf8Transcoder(encoding))) {
    received.push(chunk as Buffer);
  }
  return Buffer.concat(received).toString('utf8');
}

describe('Utf8Transcoder', () => {
  it.each(['utf-16be', 'utf-16le'] as const)('keeps an emoji of %s wherever the chunks are cut, the BOM dropped', async (encoding) => {
    const file = iconv.encode('a😀b\n', encoding, { addBOM: true });
    for (let at = 0; at <= file.length; at += 1) expect(await transcode(file, at, encoding), `cut at ${at}`).toBe('a😀b\n');
  });

  it.each(['utf-16be', 'utf-16le'] as const)('ends a %s file cut after the first half of a pair with U+FFFD', async (encoding) => {
    const file = iconv.encode('a😀', encoding).subarray(0, 4);
    expect(await transcode(file, 4, encoding)).toBe('a\uFFFD');
  });
});
