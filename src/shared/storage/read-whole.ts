import type { Readable } from 'node:stream';

const prematureClose = () => Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/**
 * The whole of `source` if it ends within `limit` bytes. Otherwise null, with the stream paused
 * and the bytes read put back in front of the rest, so that a pipe from it sees every byte: they
 * are put back in the same tick as the last one was read, before an end that came with it is
 * emitted (the end then waits until they have been read again).
 *
 * A stream that has already failed or closed rejects at once.
 *
 * Past the limit an 'error' listener stays on the stream: a failure before the caller pipes it
 * is kept in `source.errored`, where a pipeline finds it, instead of being an uncaught 'error'.
 */
export function readWhole(source: Readable, limit: number): Promise<Buffer | null> {
  // A stream that failed or closed before it is read emits nothing more (a multipart file part
  // whose body ended inside it fails as the parser reaches the end, before the route reads it).
  if (source.errored) return Promise.reject(source.errored);
  if (source.destroyed) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const stop = () => {
      source.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes <= limit) return;
      stop();
      source.on('error', () => {});
      source.pause();
      source.unshift(Buffer.concat(chunks, bytes));
      resolve(null);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, bytes));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    // Closed without an end or an error: the client went away mid-body.
    const onClose = () => onError(prematureClose());
    source.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}
