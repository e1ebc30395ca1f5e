import { SaxesParser } from 'saxes';

/** What a part reader does with the elements of one XML part; names come without their prefix. */
export interface XmlHandlers {
  open?(name: string, attributes: Record<string, string>): void;
  text?(text: string): void;
  close?(name: string): void;
}

/** A part of the workbook is not well-formed XML. */
export class XmlFormatError extends Error {
  override name = 'XmlFormatError';
}

/** `x:c` → `c`: some writers prefix the spreadsheet namespace, most do not. */
const localName = (name: string): string => name.slice(name.indexOf(':') + 1);

/**
 * Parses XML bytes as they arrive, calling `handlers` for each element and text run, and yields
 * after every chunk so that a caller can pass on what the chunk produced before the next is read.
 */
export async function* feedXml(source: AsyncIterable<Buffer>, handlers: XmlHandlers): AsyncGenerator<void> {
  const parser = new SaxesParser();
  let failure: Error | null = null;
  parser.on('error', (error) => {
    failure ??= error;
  });
  if (handlers.open) {
    const open = handlers.open.bind(handlers);
    parser.on('opentag', (tag) => open(localName(tag.name), tag.attributes as Record<string, string>));
  }
  if (handlers.text) {
    const text = handlers.text.bind(handlers);
    parser.on('text', text);
    parser.on('cdata', text);
  }
  if (handlers.close) {
    const close = handlers.close.bind(handlers);
    parser.on('closetag', (tag) => close(localName(tag.name)));
  }
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of source) {
    parser.write(decoder.decode(chunk, { stream: true }));
    if (failure) throw new XmlFormatError((failure as Error).message);
    yield;
  }
  parser.write(decoder.decode());
  parser.close();
  if (failure) throw new XmlFormatError((failure as Error).message);
}

/** Reads a whole XML part through `handlers`. */
export async function readXml(source: AsyncIterable<Buffer>, handlers: XmlHandlers): Promise<void> {
  for await (const _ of feedXml(source, handlers));
}
