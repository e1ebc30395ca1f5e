import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { Config } from '../config.js';
import { UploadStore } from '../upload-store.js';
import type { FileStore } from './file-store.js';

/** What the store needs from the configuration. */
export type StorageConfig = Pick<Config, 'DATA_DIR' | 'STORAGE_URL' | 'S3_ENDPOINT' | 'S3_REGION' | 'S3_FORCE_PATH_STYLE' | 'S3_TIMEOUT_MS'>;

/**
 * The store STORAGE_URL names: `file://<dir>` (or unset: DATA_DIR) for a local folder,
 * `s3://<bucket>/<prefix>` for object storage. Credentials come from the standard AWS chain
 * (environment, profile, instance role) unless given (tests); the region is resolved here, so a
 * store without one fails at start with a configuration error. The AWS SDK is loaded only for
 * object storage: a process that keeps files in a folder saves its memory (about 6 MB of heap).
 */
export async function createFileStore(
  config: StorageConfig,
  options: { credentials?: S3ClientConfig['credentials'] } = {},
): Promise<FileStore> {
  const url = config.STORAGE_URL;
  if (url === undefined) return new UploadStore(config.DATA_DIR);
  if (url.startsWith('file://')) return new UploadStore(url.slice('file://'.length));
  const { s3StoreFor } = await import('./s3-store.js');
  return s3StoreFor(url, config, options.credentials);
}
