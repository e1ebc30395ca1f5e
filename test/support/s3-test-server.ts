import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';

/** The keys s3rver accepts (its defaults). */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * An S3-compatible server of one test file: s3rver in a child process on a free 127.0.0.1 port
 * (test/support/s3-test-server.mjs), with its own folder and one bucket. Object storage is a third
 * party, so the tests run against a real S3 protocol server rather than a mock of our store.
 */
export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** The environment that makes the service use this server (prefix: the object-key folder). */
  env(prefix?: string, endpoint?: string): Record<string, string>;
  /** A client of this server, for checks the service's store does not offer. */
  client: S3Client;
  /** Keys of the multipart uploads started and neither completed nor aborted. */
  pendingUploads(): Promise<string[]>;
  /** Makes every PUT (PutObject, UploadPart) answer 503, or stops doing so. */
  refuseWrites(on: boolean): Promise<void>;
  /**
   * Makes every object request of `method` answer `status` (only for keys containing `keyPart`,
   * when given), or with null stops doing so. The bucket's listings are not affected. A 404 says
   * NoSuchBucket (a bucket this client cannot reach under its name), not that the object is missing.
   */
  failRequests(method: 'GET' | 'PUT' | 'DELETE', status: 403 | 404 | 500 | 503 | null, keyPart?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3TestServer(bucket = 'catalog-test'): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'catalog-s3-'));
  const script = new URL('./s3-test-server.mjs', import.meta.url).pathname;
  const child = spawn(process.execPath, [script, directory, bucket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { port } = JSON.parse(line) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3_TEST_CREDENTIALS });
  const failRequests: S3TestServer['failRequests'] = async (method, status, keyPart) => {
    const query = new URLSearchParams({ method, ...(status === null ? {} : { status: String(status) }), ...(keyPart ? { key: keyPart } : {}) });
    const response = await fetch(`${endpoint}/_test/fail?${query}`, { method: 'POST' });
    if (response.status !== 204) throw new Error(`fail ${method}: ${response.status}`);
  };
  return {
    endpoint,
    bucket,
    client,
    env: (prefix = 'catalog', viaEndpoint = endpoint) => ({
      STORAGE_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: viaEndpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      // For worker child processes: the AWS credential chain reads these.
      AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
    }),
    async pendingUploads() {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (page.Uploads ?? []).map((upload) => upload.Key!);
    },
    refuseWrites: (on) => failRequests('PUT', on ? 503 : null),
    failRequests,
    async stop() {
      client.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      await rm(directory, { recursive: true, force: true });
    },
  };
}
