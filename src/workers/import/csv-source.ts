import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type Parser } from 'csv-parse';
import iconv from 'iconv-lite';
import type { ImportEncoding, ImportOptions } from '../../shared/jobs/import-options.js';
import { startsLikeZip } from '../../shared/jobs/upload-formats.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { CsvRecordReader } from './csv-records.js';
import { csvParseOptions, type CsvReadSettings } from './csv-text.js';
import { detectDelimiter } from './header.js';
import { InputGuard } from './input-guard.js';
import { isParserError } from './file-problem.js';
import { decoderEncoding, Utf8Transcoder } from './utf8-transcoder.js';

/** Bytes of the upload's start read to tell its encoding, delimiter and kind. */
const HEAD_BYTES = 64 * 1024;

/** A workbook sent where CSV text was expected: a zip (.xlsx, .ods) or an OLE2 (.xls) file. */
export type WorkbookKind = 'zip' | 'xls';

/** How one CSV upload is read: worked out once from its first bytes and the job's options. */
export interface CsvSource {
  uploads: FileStore;
  path: string;
  /** The encoding the bytes are decoded from; 'utf-8' passes them on as they are. */
  encoding: ImportEncoding;
  delimiter: string;
  /** 2 when the first line is Excel's `sep=` hint, which is not the header. */
  fromLine: number;
  /** Set when the upload starts like a workbook, for the message that the file is not CSV. */
  workbook: WorkbookKind | null;
}

const OLE2_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

/** Excel's delimiter hint: a first line `sep=;` (any one character). */
const SEP_LINE = /^\uFEFF?sep=([^\r\n"])[ \t]*(?:\r?\n|$)/i;

/**
 * Reads the upload's first bytes: a byte-order mark (UTF-8 or UTF-16) chooses by itself, else the
 * `encoding` option, else UTF-8; the delimiter is the option, else Excel's `sep=` line, else the
 * one the header line uses most.
 */
export async function describeCsvUpload(uploads: FileStore, path: string, options: ImportOptions): Promise<CsvSource> {
  const head = await uploads.head(path, HEAD_BYTES);
  const encoding = bomEncoding(head) ?? options.encoding ?? 'utf-8';
  const text = encoding === 'utf-8' ? head.toString('utf8') : iconv.decode(head, decoderEncoding(encoding));
  const sepLine = SEP_LINE.exec(text);
  const delimiter = options.delimiter ?? sepLine?.[1] ?? detectDelimiter(text);
  const workbook = startsLikeZip(head) ? 'zip' : startsWith(head, OLE2_MAGIC) ? 'xls' : null;
  return { uploads, path, encoding, delimiter, fromLine: sepLine ? 2 : 1, workbook };
}

/** A byte-order mark says the encoding by itself, over the option (rows.csv of a decoded upload has one). */
function bomEncoding(head: Buffer): ImportEncoding | null {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return null;
}

function startsWith(data: Buffer, magic: Buffer): boolean {
  return data.length >= magic.length && data.subarray(0, magic.length).equals(magic);
}

/**
 * The upload as UTF-8 bytes, read as a stream: UTF-8 uploads as stored (the hot path pays
 * nothing), others through {@link Utf8Transcoder} (a BOM is dropped).
 */
export function openUtf8(source: CsvSource): Readable {
  const raw = source.uploads.open(source.path);
  if (source.encoding === 'utf-8') return raw;
  const decoder = new Utf8Transcoder(source.encoding);
  raw.on('error', (error) => decoder.destroy(error));
  // A consumer that stops early destroys the decoder: close the file with it.
  decoder.on('close', () => raw.destroy());
  return raw.pipe(decoder);
}

/** How the records of `source` are read: its delimiter and `sep=` line, and the record size limit. */
export function readSettings(source: CsvSource, maxRecordBytes: number): CsvReadSettings {
  return { delimiter: source.delimiter, fromLine: source.fromLine, maxRecordBytes };
}

/** csv-parse for an upload; `info` adds each record's line numbers (costly: failure paths only). */
export function csvParser(source: CsvSource, maxRecordBytes: number, info: boolean): Parser {
  return parse(csvParseOptions(readSettings(source, maxRecordBytes), info));
}

/**
 * The records of an upload, header first, read again as the import read them (same decoding,
 * delimiter and parser settings, so record n is data row n of the report). Stops quietly where
 * the import found a file-level problem (the report says what it was), and rejects when the file
 * cannot be read. Streams in flat memory;
 * leaving the loop early closes the file.
 */
export async function* uploadRecords(source: CsvSource, maxRecordBytes: number): AsyncGenerator<string[]> {
  const reader = new CsvRecordReader(readSettings(source, maxRecordBytes));
  const guard = new InputGuard();
  // Destroying the guard, however the records end, makes pipeline() close the file with it.
  pipeline(openUtf8(source), guard).catch(() => {});
  try {
    for await (const batch of reader.batches(guard)) yield* batch;
  } catch (error) {
    // A parse error ends the records: the import stopped at the same place. A failure to read
    // the file (the storage) is no end of it: passed on, so a download breaks off instead of
    // looking whole.
    if (!isParserError(error)) throw error;
  } finally {
    // A consumer that leaves early (a client that drops rows.csv) must not leave the file open.
    guard.destroy();
  }
}
