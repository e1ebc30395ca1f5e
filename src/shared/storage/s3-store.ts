import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Transform, type Readable } from 'node:stream';
import { ConfigError } from '../config.js';
import { AppError } from '../http/app-error.js';
import type { StorageConfig } from './create-file-store.js';
import { newUploadPath, uploadMeter } from '../upload-store.js';
import type { DownloadOptions, FileStore, ReadRange, ResultWriter, SaveOptions, StoredUpload } from './file-store.js';
import { S3ObjectReader } from './s3-object-reader.js';
import { isMissingFile, storageUnavailable } from './storage-errors.js';

/** S3's smallest part (all but the last) and its most parts per upload. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

/** Parts sent at once per upload: memory per upload is about (this + 1) × the part size. */
const PARTS_IN_FLIGHT = 2;

/**
 * The part size for files up to `maxBytes`: 5 MiB (S3's minimum) unless that would need more
 * than S3's 10,000 parts, with a margin. Memory per upload stays a few parts, whatever the file.
 */
export function partSizeFor(maxBytes: number): number {
  return Math.max(MIN_PART_BYTES, Math.ceil(maxBytes / (MAX_PARTS * 0.9)));
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** Where the store keeps its objects. */
export interface S3Location {
  client: S3Client;
  bucket: string;
  /** Prepended to every path: `''` or a folder ending in `/`. */
  prefix: string;
}

/**
 * The object-storage file store (AWS S3, MinIO, Cloudflare R2, Ceph RGW): uploads and export
 * files are written by multipart upload straight from the stream (bounded memory), so an object
 * exists only once complete, and any failure aborts the multipart upload (no parts left behind).
 * Reads resume after a dropped connection ({@link S3ObjectReader}).
 */
export class S3Store implements FileStore {
  readonly kind = 's3';

  constructor(private readonly location: S3Location) {}

  private key(path: string): string {
    if (path.split('/').includes('..')) throw new Error(`Upload path outside the store: ${path}`);
    return this.location.prefix + path;
  }

  private upload(path: string, body: Readable, partSize: number): Upload {
    return new Upload({
      client: this.location.client,
      params: { Bucket: this.location.bucket, Key: this.key(path), Body: body },
      partSize,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
  }

  async save(source: Readable, maxBytes: number, options: SaveOptions = {}): Promise<StoredUpload> {
    const path = newUploadPath();
    const meter = uploadMeter(maxBytes, options);
    source.once('error', (error) => meter.destroy(error));
    source.pipe(meter);
    try {
      await this.upload(path, meter, partSizeFor(maxBytes)).done();
    } catch (error) {
      // The upload has aborted its multipart upload by now (no parts left behind).
      // The body itself failed (a malformed multipart body, a client gone): not the storage.
      if (source.errored) throw source.errored;
      if (meter.errored instanceof AppError) {
        // Over the limit: stop reading the body, as the local store does.
        source.destroy();
        throw meter.errored;
      }
      // The storage failed: the rest of the body is read and dropped, so that the client, still
      // sending, gets the 503 answer instead of a reset connection.
      source.unpipe(meter);
      source.resume();
      meter.destroy();
      throw storageUnavailable(meter.errored ?? error);
    }
    return { path, ...meter.result() };
  }

  open(path: string): Readable {
    return this.openRead(path);
  }

  openRead(path: string, range: ReadRange = {}): Readable {
    const { client, bucket } = this.location;
    return new S3ObjectReader({ client, bucket, key: this.key(path) }, range);
  }

  async head(path: string, bytes: number): Promise<Buffer> {
    const { client, bucket } = this.location;
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.key(path), Range: `bytes=0-${bytes - 1}` }));
      return Buffer.from(await response.Body!.transformToByteArray());
    } catch (error) {
      // An empty object has no byte 0: S3 answers 416 to any range.
      if (httpStatus(error) === 416) return Buffer.alloc(0);
      // A missing object stays a 404 (rows.csv answers that the upload is gone). A storage that
      // fails, refuses or stalls is a 503: the upload read back after its write, or rows.csv,
      // may be asked again, where a 500 would call it a fault of the service.
      if (isMissingFile(error)) throw error;
      throw storageUnavailable(error);
    }
  }

  async size(path: string): Promise<number | null> {
    const { client, bucket } = this.location;
    try {
      const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.key(path) }));
      return response.ContentLength ?? 0;
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      // A download asked while the storage is down answers 503, not 500.
      throw storageUnavailable(error);
    }
  }

  async remove(path: string): Promise<void> {
    const { client, bucket } = this.location;
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.key(path) }));
  }

  createWriter(path: string): ResultWriter {
    let bytes = 0;
    const stream = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const done = this.upload(path, stream, MIN_PART_BYTES).done();
    done.catch(() => {});
    return {
      stream,
      finish: async () => {
        await done;
        return bytes;
      },
      abort: async () => {
        // Failing the body makes the upload abort its multipart upload before `done` settles.
        if (!stream.destroyed) stream.destroy(new Error('The result file was abandoned.'));
        const completed = await done.then(() => true, () => false);
        if (completed) await this.remove(path);
      },
    };
  }

  async downloadUrl(path: string, options: DownloadOptions): Promise<string> {
    const { client, bucket } = this.location;
    const command = new GetObjectCommand({
      Bucket: bucket,
      Key: this.key(path),
      ResponseContentType: options.contentType,
      ResponseContentDisposition: `attachment; filename="${options.fileName}"`,
    });
    return getSignedUrl(client, command, { expiresIn: options.expiresInSeconds });
  }

  async removeIncomplete(olderThan: Date): Promise<number> {
    const { client, bucket, prefix } = this.location;
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Initiated || upload.Initiated >= olderThan) continue;
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
        } catch (error) {
          // Gone already: the SDK's retry of an abort whose answer was lost, or another process.
          if (httpStatus(error) !== 404) throw error;
        }
        removed += 1;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return removed;
  }
}

/**
 * Resolves the region as every request will (S3_REGION, else the AWS chain: AWS_REGION, the
 * profile's config file; no network). Without one the process would start ready and answer 503 to
 * every upload kept in the store; it stops at start instead, naming the setting.
 */
async function checkRegion(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.config.region();
  } catch (error) {
    client.destroy();
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `Invalid configuration: S3_REGION: no usable region for s3://${bucket} (${reason}); set S3_REGION to the bucket's region (auto on R2, any name such as us-east-1 on MinIO), or AWS_REGION`,
      { cause: error },
    );
  }
}

/** The object store of `s3://<bucket>/<prefix>` (`url`), with the S3 settings of `config`; a missing region is a {@link ConfigError}. */
export async function s3StoreFor(url: string, config: StorageConfig, credentials?: S3ClientConfig['credentials']): Promise<S3Store> {
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
    // A storage that does not answer, or stops sending, fails the request instead of holding a job
    // or an upload for ever: no byte either way on its connection for S3_TIMEOUT_MS. (A limit on
    // the whole request would also cut a slow upload of a part that is still moving.) Failed
    // reads resume, failed writes are retried.
    requestHandler: { connectionTimeout: Math.min(5_000, config.S3_TIMEOUT_MS), socketTimeout: config.S3_TIMEOUT_MS },
  });
  await checkRegion(client, bucket);
  return new S3Store({ client, bucket, prefix: folder === '' ? '' : `${folder}/` });
}
