import { expect, it } from 'vitest';
import { parseEventStream, type StreamItem } from '../../src/cli/sse-parser.js';

async function parse(chunks: string[]): Promise<StreamItem[]> {
  const encoder = new TextEncoder();
  async function* source() {
    for (const chunk of chunks) yield encoder.encode(chunk);
  }
  const items: StreamItem[] = [];
  for await (const item of parseEventStream(source())) items.push(item);
  return items;
}

const STREAM = 'id: 7\r\nevent: progress\r\ndata: {"a":1}\r\n\r\n: keep-alive\r\n\r\nid: 8\r\nevent: end\r\ndata: {"b":1}\r\n\r\n';
const EXPECTED: StreamItem[] = [
  { kind: 'event', event: { id: '7', event: 'progress', data: '{"a":1}' } },
  { kind: 'comment', text: 'keep-alive' },
  { kind: 'event', event: { id: '8', event: 'end', data: '{"b":1}' } },
];

it('reads CRLF-framed events the same wherever the stream is cut, between a CR and its LF too', async () => {
  for (let cut = 1; cut < STREAM.length; cut += 1) {
    expect(await parse([STREAM.slice(0, cut), STREAM.slice(cut)]), `cut at ${cut}`).toEqual(EXPECTED);
  }
  expect(await parse([...STREAM])).toEqual(EXPECTED);
});

it('reads LF-framed and CR-framed events as CRLF-framed ones', async () => {
  expect(await parse([STREAM.replaceAll('\r\n', '\n')])).toEqual(EXPECTED);
  expect(await parse([STREAM.replaceAll('\r\n', '\r')])).toEqual(EXPECTED);
});
