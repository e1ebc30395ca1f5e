/* global process, console */
// An S3-compatible server for the tests, on 127.0.0.1: s3rver (an npm package) with what it lacks
// and the service relies on — AbortMultipartUpload and ListMultipartUploads — and a switch that
// makes the requests of one method fail, for the fault tests. A Range ending at byte 0 (`bytes=0-0`)
// is answered with the first byte, as S3 does (s3rver reads it as a range to the object's end).
//   node test/support/s3-test-server.mjs <directory> <bucket>   → prints {"port": N} when ready
// POST /_test/fail?method=PUT&status=503[&key=part] makes every object request of that method (of
// the objects whose key contains `part`) answer that status; without `status` it stops.
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
// s3rver's store takes a range's end of 0 for no end: the first byte alone is read here.
const getObject = server.store.getObject.bind(server.store);
server.store.getObject = async (bucketName, key, options) => {
  const object = await getObject(bucketName, key, options);
  if (options?.end !== 0 || !object?.content) return object;
  object.content.destroy();
  object.content = createReadStream(server.store.getResourcePath(bucketName, key, 'object'), { start: 0, end: 0 });
  object.range = { start: 0, end: 0 };
  return object;
};

/** The failing methods: the status they answer and the part of the keys they fail for. */
const failing = new Map();

/** The S3 error code a failing request answers with. */
const ERROR_CODES = { 403: 'AccessDenied', 404: 'NoSuchBucket', 500: 'InternalError', 503: 'ServiceUnavailable' };

const xmlText = (value) => String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function sendXml(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

/** The unfinished multipart uploads of the bucket: s3rver keeps each in a folder of its own. */
async function pendingUploads(bucketName) {
  const root = server.store.getResourcePath(bucketName, undefined, 'uploads');
  const ids = await readdir(root).catch(() => []);
  const uploads = [];
  for (const id of ids) {
    if (id.includes('.aborted-')) continue;
    const key = await readFile(join(root, id, 'key'), 'utf8').catch(() => null);
    const stats = await stat(join(root, id, 'key')).catch(() => null);
    if (key === null || stats === null) continue;
    uploads.push({ id, key, initiated: stats.mtime, dir: join(root, id) });
  }
  return uploads;
}

async function listUploads(ctx, bucketName) {
  const prefix = ctx.query.prefix ?? '';
  const uploads = (await pendingUploads(bucketName)).filter((upload) => upload.key.startsWith(prefix));
  const entries = uploads.map(
    (upload) =>
      `<Upload><Key>${xmlText(upload.key)}</Key><UploadId>${upload.id}</UploadId>` +
      `<Initiated>${upload.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
  );
  sendXml(
    ctx,
    200,
    `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${xmlText(bucketName)}</Bucket>` +
      `<Prefix>${xmlText(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${entries.join('')}` +
      `</ListMultipartUploadsResult>`,
  );
}

async function abortUpload(ctx, bucketName, key) {
  const upload = (await pendingUploads(bucketName)).find((candidate) => candidate.id === ctx.query.uploadId);
  if (!upload || upload.key !== key) {
    return sendXml(ctx, 404, '<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>');
  }
  // Move the folder away first: a part still being written must not land in a folder being
  // removed (rm would fail, and the client's retry would find no upload).
  const doomed = `${upload.dir}.aborted-${process.hrtime.bigint()}`;
  await rename(upload.dir, doomed);
  await rm(doomed, { recursive: true, force: true, maxRetries: 5 });
  ctx.status = 204;
}

// Koa composes its middleware when the server starts: this one runs before s3rver's routes.
server.middleware.unshift(async (ctx, next) => {
  if (ctx.path === '/_test/fail') {
    const { method, status, key = '' } = ctx.query;
    if (status) failing.set(method, { status: Number(status), key });
    else failing.delete(method);
    ctx.status = 204;
    return;
  }
  const [bucketName, ...keyParts] = ctx.path.slice(1).split('/').map(decodeURIComponent);
  const key = keyParts.join('/');
  const failure = failing.get(ctx.method);
  if (failure && key !== '' && key.includes(failure.key)) {
    // Read the body first: a client still sending it would see a reset, not the answer.
    ctx.req.resume();
    if (!ctx.req.readableEnded) await once(ctx.req, 'end');
    const code = ERROR_CODES[failure.status] ?? 'InternalError';
    return sendXml(ctx, failure.status, `<Error><Code>${code}</Code><Message>The test made ${ctx.method} fail.</Message></Error>`);
  }
  if (ctx.method === 'GET' && key === '' && 'uploads' in ctx.query) return listUploads(ctx, bucketName);
  if (ctx.method === 'DELETE' && key !== '' && 'uploadId' in ctx.query) return abortUpload(ctx, bucketName, key);
  return next();
});

const { port } = await server.run();
console.log(JSON.stringify({ port }));
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
