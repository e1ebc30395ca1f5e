import { SaxesParser } from 'saxes';

/** What a part reader does with the elements of one XML part; names come without their prefix. */
export interface XmlHandlers {
  open?(name: string, attributes: Record<string, string>): void;
  text?(text: string): void;
  close?(name: string): void;
  /**
   * The error to throw when the part runs past {@link XmlRunError}'s bound; a reader in the middle
   * of a cell or string can name it. Undefined: the XmlRunError itself.
   */
  runTooLong?(error: XmlRunError): Error | undefined;
}

/** A part of the workbook is not well-formed XML. */
export class XmlFormatError extends Error {
  override name = 'XmlFormatError';
}

/** A part holds more characters between two tags than any text of a cell could take. */
export class XmlRunError extends XmlFormatError {
  override name = 'XmlRunError';
  constructor(readonly limit: number) {
    super(`it has a text, attribute or comment of more than ${limit} characters, longer than any cell may be (IMPORT_MAX_RECORD_BYTES)`);
  }
}

/**
 * Elements open at once a part may have: saxes keeps each open tag until it closes, so a part of
 * millions of nested elements fills the heap. A worksheet nests 6 deep (`<worksheet>`,
 * `<sheetData>`, `<row>`, `<c>`, `<is>`, `<r>`, `<t>`), Excel's other parts hardly more.
 */
export const MAX_DEPTH = 64;

/** A part nests elements deeper than any workbook does. */
export class XmlDepthError extends XmlFormatError {
  override name = 'XmlDepthError';
  constructor() {
    super(`it nests elements more than ${MAX_DEPTH} deep, deeper than any spreadsheet program writes`);
  }
}

/**
 * Characters of XML a text may take per byte of its value: `&quot;` and `&apos;`, the longest
 * entities a writer uses, stand for one character.
 */
const XML_CHARS_PER_BYTE = 6;
/**
 * The bound however small cells are bounded: tags of a workbook's own parts are longer than a
 * small IMPORT_MAX_RECORD_BYTES (Excel's root elements declare a dozen namespaces).
 */
const MIN_RUN_CHARS = 1 << 20;
/** Characters handed to the parser at a time, so that a long run is caught soon after its bound. */
const PIECE_CHARS = 1 << 16;

/** `x:c` → `c`: some writers prefix the spreadsheet namespace, most do not. */
const localName = (name: string): string => name.slice(name.indexOf(':') + 1);

/** Calls `handlers` for the parser's events, and `reported` whenever the parser reports anything. */
function listen(parser: SaxesParser, handlers: XmlHandlers, reported: () => void): void {
  const open = handlers.open?.bind(handlers);
  let depth = 0;
  parser.on('opentag', (tag) => {
    reported();
    depth += 1;
    if (depth > MAX_DEPTH) throw new XmlDepthError();
    open?.(localName(tag.name), tag.attributes as Record<string, string>);
  });
  const close = handlers.close?.bind(handlers);
  parser.on('closetag', (tag) => {
    reported();
    depth -= 1;
    close?.(localName(tag.name));
  });
  // Without a text handler saxes does not keep text at all.
  if (handlers.text) {
    const text = handlers.text.bind(handlers);
    const onText = (value: string) => {
      reported();
      text(value);
    };
    parser.on('text', onText);
    parser.on('cdata', onText);
  }
  for (const event of ['comment', 'processinginstruction', 'doctype', 'xmldecl'] as const) parser.on(event, reported);
}

/**
 * Parses XML bytes as they arrive, calling `handlers` for each element and text run, and yields
 * after every chunk so that a caller can pass on what the chunk produced before the next is read.
 *
 * saxes keeps a whole text, attribute or comment until it ends (a text at the next `<`): a
 * deflated part can hold hundreds of megabytes of one letter, which would fill the heap before the
 * handlers see any of it. So the characters since the parser last reported something are counted,
 * and past what a text of `maxTextBytes` can take in XML (at least 1 Mi characters) the part fails
 * with an {@link XmlRunError}.
 */
export async function* feedXml(source: AsyncIterable<Buffer>, handlers: XmlHandlers, maxTextBytes: number): AsyncGenerator<void> {
  const parser = new SaxesParser();
  const maxRun = Math.max(maxTextBytes * XML_CHARS_PER_BYTE, MIN_RUN_CHARS);
  let failure: Error | null = null;
  let fed = 0;
  /** Where the parser last reported something: what it holds of a text, tag or comment began there. */
  let lastEventAt = 0;
  parser.on('error', (error) => {
    failure ??= error;
  });
  listen(parser, handlers, () => {
    lastEventAt = parser.position;
  });

  const write = (chars: string) => {
    for (let at = 0; at < chars.length; at += PIECE_CHARS) {
      const piece = chars.slice(at, at + PIECE_CHARS);
      parser.write(piece);
      if (failure) throw new XmlFormatError(failure.message);
      fed += piece.length;
      if (fed - lastEventAt > maxRun) {
        const error = new XmlRunError(maxRun);
        throw handlers.runTooLong?.(error) ?? error;
      }
    }
  };
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of source) {
    write(decoder.decode(chunk, { stream: true }));
    yield;
  }
  write(decoder.decode());
  parser.close();
  if (failure) throw new XmlFormatError((failure as Error).message);
}

/** Reads a whole XML part through `handlers` (see {@link feedXml} for `maxTextBytes`). */
export async function readXml(source: AsyncIterable<Buffer>, handlers: XmlHandlers, maxTextBytes: number): Promise<void> {
  for await (const _ of feedXml(source, handlers, maxTextBytes));
}
