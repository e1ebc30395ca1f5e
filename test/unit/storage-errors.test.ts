import { NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { isMissingFile } from '../../src/shared/storage/storage-errors.js';

/** An error as the S3 client throws it for an answer of `status` with S3 error code `name`. */
const s3Error = (name: string, status: number) =>
  new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });

describe('isMissingFile', () => {
  it('takes a file the local store has not (ENOENT) and an object S3 has not (NoSuchKey) for missing', () => {
    expect(isMissingFile(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }))).toBe(true);
    expect(isMissingFile(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isMissingFile(s3Error('NoSuchKey', 404))).toBe(true);
  });

  it('takes a store it cannot reach for no answer about the file: a bucket not found, a refusal, a 404 without NoSuchKey', () => {
    expect(isMissingFile(s3Error('NoSuchBucket', 404))).toBe(false);
    expect(isMissingFile(s3Error('AccessDenied', 403))).toBe(false);
    // The SDK's name for a 404 that carries no S3 error code (a proxy's or gateway's page).
    expect(isMissingFile(s3Error('NotFound', 404))).toBe(false);
    expect(isMissingFile(s3Error('InternalError', 500))).toBe(false);
    expect(isMissingFile(Object.assign(new Error('EACCES'), { code: 'EACCES' }))).toBe(false);
    expect(isMissingFile(undefined)).toBe(false);
  });
});
