import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Config } from '../config.js';
import { UploadStore } from '../upload-store.js';
import type { FileStore } from './file-store.js';
import { S3Store } from './s3-store.js';

/** What the store needs from the configuration. */
export type StorageConfig = Pick<Config, 'DATA_DIR' | 'STORAGE_URL' | 'S3_ENDPOINT' | 'S3_REGION' | 'S3_FORCE_PATH_STYLE'>;

/**
 * The store STORAGE_URL names: `file://<dir>` (or unset: DATA_DIR) for a local folder,
 * `s3://<bucket>/<prefix>` for object storage. Credentials come from the standard AWS chain
 * (environment, profile, instance role) unless given (tests).
 */
export function createFileStore(config: StorageConfig, options: { credentials?: S3ClientConfig['credentials'] } = {}): FileStore {
  const url = config.STORAGE_URL;
  if (url === undefined) return new UploadStore(config.DATA_DIR);
  if (url.startsWith('file://')) return new UploadStore(url.slice('file://'.length));
  const { hostname: bucket, pathname } = new URL(url);
  const folder = pathname.replace(/^\/+|\/+$/g, '');
  const client = new S3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: options.credentials,
    // Checksums only where S3 requires them: the SDK's default (a CRC trailer in an aws-chunked
    // body) is not understood by every S3-compatible store (older Ceph RGW and MinIO, emulators).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A storage that does not answer fails the request instead of holding a job or an upload.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
  return new S3Store({ client, bucket, prefix: folder === '' ? '' : `${folder}/` });
}
