import type { ImportEncoding } from '../shared/jobs/import-options.js';
import { unsupportedCharset } from './errors.js';
import { mediaTypeParameter } from './media-type.js';

/**
 * The charsets a CSV upload may be labelled with (`text/csv; charset=…`), lower case, and the
 * import encoding each is read in. `utf-16` is read as UTF-16LE, as the WHATWG Encoding Standard
 * (and so every browser) reads that label and as Windows writes it; `iso-8859-1` is read as
 * windows-1252, as browsers read it too (utf8-transcoder.ts), and keeps its name in the options.
 * US-ASCII is read as UTF-8, of which it is a subset, not as browsers read it (windows-1252): a
 * tool that labels a file by its first bytes may call a UTF-8 file us-ascii, and windows-1252
 * would mangle its later é without an error, where UTF-8 fails a cp1252 byte with INVALID_UTF8.
 * A byte-order mark, when the file has one, decides over any encoding (csv-source.ts).
 */
const CHARSET_ENCODINGS = new Map<string, ImportEncoding>([
  ['utf-8', 'utf-8'],
  ['utf8', 'utf-8'],
  ['us-ascii', 'utf-8'],
  ['ascii', 'utf-8'],
  ['windows-1252', 'windows-1252'],
  ['cp1252', 'windows-1252'],
  ['iso-8859-1', 'iso-8859-1'],
  ['iso_8859-1', 'iso-8859-1'],
  ['latin1', 'iso-8859-1'],
  ['l1', 'iso-8859-1'],
  ['utf-16', 'utf-16le'],
  ['utf-16le', 'utf-16le'],
  ['utf-16be', 'utf-16be'],
]);

/** The charsets named in a refusal: one name for each way of reading, the aliases left out. */
const SUPPORTED_CHARSETS = ['utf-8', 'us-ascii', 'windows-1252', 'iso-8859-1', 'utf-16', 'utf-16le', 'utf-16be'];

/**
 * The encoding the `charset` parameter of a CSV upload's Content-Type names; null without one. A
 * charset the import cannot read is a 415: the file would otherwise be read in an encoding it is
 * not in, and fail (or import mangled text) only once the job runs.
 */
export function charsetEncoding(contentType: string | undefined): ImportEncoding | null {
  const charset = mediaTypeParameter(contentType, 'charset');
  if (charset === null) return null;
  const encoding = CHARSET_ENCODINGS.get(charset.toLowerCase());
  if (encoding === undefined) throw unsupportedCharset(charset, SUPPORTED_CHARSETS);
  return encoding;
}
