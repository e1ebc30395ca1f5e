import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MultipartFileContentType } from '../../src/api/multipart-file-content-type.js';
import { multipartBody, type FormPart } from '../support/multipart.js';

/** The Content-Type the scan finds in a body built of `parts`, fed in chunks of `chunkBytes`. */
function scanned(parts: FormPart[], chunkBytes: number, busboyMediaType = 'text/csv'): string | null {
  const { body, contentType } = multipartBody(parts);
  const source = new PassThrough();
  const scan = new MultipartFileContentType(source, contentType.split('boundary=')[1]!);
  for (let at = 0; at < body.length; at += chunkBytes) source.emit('data', body.subarray(at, at + chunkBytes));
  return scan.contentTypeOf(busboyMediaType);
}

const FILE: FormPart = { name: 'file', filename: 'p.csv', contentType: 'text/csv; charset=windows-1252', content: 'ean,name\n' };

describe('MultipartFileContentType', () => {
  it.each([1, 2, 7, 64, 100_000])("finds the file part's Content-Type after fields, read %i bytes at a time", (chunkBytes) => {
    const parts = [{ name: 'note', content: '--not a delimiter\r\n\r\n' }, { name: 'file', content: 'a field, not the file' }, FILE];
    expect(scanned(parts, chunkBytes)).toBe('text/csv; charset=windows-1252');
  });

  it('passes over a part of another name, and a file part with no Content-Type has none', () => {
    expect(scanned([{ ...FILE, name: 'other' }, { name: 'file', filename: 'p.csv', content: 'ean\n' }], 5, 'text/plain')).toBeNull();
  });

  it('lends nothing when busboy read another media type for the part', () => {
    expect(scanned([FILE], 3, 'application/octet-stream')).toBeNull();
  });

  it('stops listening once it has found the part', () => {
    const { body, contentType } = multipartBody([FILE, FILE]);
    const source = new PassThrough();
    new MultipartFileContentType(source, contentType.split('boundary=')[1]!);
    source.emit('data', body);
    expect(source.listenerCount('data')).toBe(0);
  });
});
