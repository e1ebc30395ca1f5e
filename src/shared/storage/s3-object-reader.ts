import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { ReadRange } from './file-store.js';

/** Where an object is. */
export interface ObjectLocation {
  client: S3Client;
  bucket: string;
  key: string;
}

/**
 * Waits before each resume after a dropped connection; the count resets whenever a resumed read
 * makes progress, so only a storage that stays unreachable for about 8 s fails the read (and the
 * job's attempt, which the queue retries).
 */
const RESUME_DELAYS_MS = [100, 300, 800, 2_000, 5_000];

/** An error the storage answered with a 4xx status: resuming cannot help. */
function isFinal(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && status < 500;
}

/**
 * A read stream over one object (or the bytes of `range`) that survives dropped connections:
 * GetObject streams the body; when the connection breaks (an error, or an end before the announced
 * length) it asks again with `Range: bytes=<next byte>-[<end>]` and `If-Match: <ETag>`, so the
 * bytes continue exactly where they stopped, from the same version of the object, and no byte is
 * read twice.
 */
export class S3ObjectReader extends Readable {
  private position: number;
  /** The last byte to read (inclusive), or undefined for the object's end. */
  private readonly end: number | undefined;
  private total: number | undefined;
  private etag: string | undefined;
  private body: Readable | null = null;
  private requesting = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly location: ObjectLocation,
    range: ReadRange = {},
    private readonly resumeDelaysMs: readonly number[] = RESUME_DELAYS_MS,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.position = range.start ?? 0;
    this.end = range.end;
  }

  override _read(): void {
    if (this.body) this.body.resume();
    else if (!this.requesting && this.timer === undefined) void this.request();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    this.body?.destroy();
    this.body = null;
    callback(error);
  }

  private async request(): Promise<void> {
    this.timer = undefined;
    if (this.total !== undefined && this.position >= this.total) return void this.push(null);
    this.requesting = true;
    try {
      const { client, bucket, key } = this.location;
      const response = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: this.position > 0 || this.end !== undefined ? `bytes=${this.position}-${this.end ?? ''}` : undefined,
          IfMatch: this.etag,
        }),
      );
      const body = response.Body as Readable;
      if (this.destroyed) return void body.destroy();
      this.etag ??= response.ETag;
      this.total ??= this.position + (response.ContentLength ?? 0);
      this.attach(body);
    } catch (error) {
      this.failed(error);
    } finally {
      this.requesting = false;
    }
  }

  private attach(body: Readable): void {
    this.body = body;
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      this.body = null;
      body.destroy();
      if (this.position >= this.total!) this.push(null);
      else this.failed(error ?? new Error('The storage closed the connection before the end of the file.'));
    };
    body.on('data', (chunk: Buffer) => {
      this.position += chunk.length;
      this.failures = 0;
      if (!this.push(chunk)) body.pause();
    });
    body.once('end', () => settle());
    body.once('error', (error) => settle(error));
    body.once('close', () => settle());
  }

  private failed(error: unknown): void {
    if (this.destroyed) return;
    if (isFinal(error) || this.failures >= this.resumeDelaysMs.length) return void this.destroy(error as Error);
    const delay = this.resumeDelaysMs[this.failures]!;
    this.failures += 1;
    this.timer = setTimeout(() => void this.request(), delay);
  }
}
