/** One Server-Sent Event as the event-stream format defines it. */
export interface ServerSentEvent {
  id: string | null;
  event: string;
  data: string;
}

/** What the stream carried: an event, or a comment line (a heartbeat). */
export type StreamItem = { kind: 'event'; event: ServerSentEvent } | { kind: 'comment'; text: string };

/**
 * Parses a `text/event-stream` body (the HTML living standard's format: fields per line, events
 * separated by a blank line, `:` comments). Only what the job events need: id, event, data.
 */
export async function* parseEventStream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<StreamItem> {
  const decoder = new TextDecoder();
  let buffer = '';
  let pending: ServerSentEvent = { id: null, event: 'message', data: '' };
  let hasData = false;
  /** The complete lines of `buffer`; before the stream's end, a CR that ends it may be half a CRLF and waits. */
  function* lines(ended: boolean): Generator<StreamItem> {
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (!ended && newline === buffer.length - 1 && buffer.endsWith('\r')) return;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (hasData) yield { kind: 'event', event: { ...pending, data: pending.data.replace(/\n$/, '') } };
        pending = { id: pending.id, event: 'message', data: '' };
        hasData = false;
      } else if (line.startsWith(':')) {
        yield { kind: 'comment', text: line.slice(1).trim() };
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') {
          pending.data += `${value}\n`;
          hasData = true;
        } else if (field === 'event') pending.event = value;
        else if (field === 'id') pending.id = value;
      }
    }
  }
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    yield* lines(false);
  }
  yield* lines(true);
}
