import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { StorageConfig } from './create-file-store.js';
import { S3Store } from './s3-store.js';

/** The object store of `s3://<bucket>/<prefix>` (`url`), with the S3 settings of `config`. */
export function s3StoreFor(url: string, config: StorageConfig, credentials?: S3ClientConfig['credentials']): S3Store {
  const { hostname: bucket, pathname } = new URL(url);
  const folder = pathname.replace(/^\/+|\/+$/g, '');
  const client = new S3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials,
    // Checksums only where S3 requires them: the SDK's default (a CRC trailer in an aws-chunked
    // body) is not understood by every S3-compatible store (older Ceph RGW and MinIO, emulators).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A storage that does not answer fails the request instead of holding a job or an upload.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
  return new S3Store({ client, bucket, prefix: folder === '' ? '' : `${folder}/` });
}
