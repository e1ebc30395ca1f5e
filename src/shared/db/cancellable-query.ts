import pg from 'pg';
import type { Db, DbClient } from './pool.js';

/** What node-postgres keeps of a connected client that a cancel request needs (not in its types). */
interface CancelKey {
  processID: number | null;
  secretKey: unknown;
  host: string;
  port: number;
  ssl: unknown;
}

/** The part of node-postgres's protocol connection a cancel request uses (not in its types). */
interface CancelConnection {
  connect(port: number | string, host?: string): void;
  requestSsl(): void;
  cancel(processID: number, secretKey: unknown): void;
  once(event: string, listener: () => void): void;
  on(event: string, listener: () => void): void;
  stream: { destroy(): void };
}

/** The longest a cancel request's own connection is kept open. */
const CANCEL_GIVE_UP_MS = 5_000;

/**
 * Sends PostgreSQL's CancelRequest for the statement `client` is running: a connection of its own
 * that carries the backend's process id and secret key and no login, so it needs no place in the
 * pool (which may be full) and no `max_connections` slot, unlike `SELECT pg_cancel_backend(pid)`.
 * Resolves once the server has closed it (it answers nothing); never rejects.
 */
export function sendCancelRequest(client: DbClient): Promise<void> {
  const key = client as unknown as CancelKey;
  if (key.processID === null) return Promise.resolve();
  const processID = key.processID;
  const connection = new pg.Connection({ ssl: key.ssl as pg.ConnectionConfig['ssl'] }) as unknown as CancelConnection;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      connection.stream.destroy();
      resolve();
    };
    const timer = setTimeout(done, CANCEL_GIVE_UP_MS).unref();
    connection.on('error', done);
    connection.on('end', done);
    if (key.ssl) {
      connection.once('connect', () => connection.requestSsl());
      connection.once('sslconnect', () => connection.cancel(processID, key.secretKey));
    } else {
      connection.once('connect', () => connection.cancel(processID, key.secretKey));
    }
    // A host that is a folder is a Unix socket, as node-postgres connects to it.
    if (key.host.startsWith('/')) connection.connect(`${key.host}/.s.PGSQL.${key.port}`);
    else connection.connect(key.port, key.host);
  });
}

/**
 * Runs one statement on a connection of its own from `db`, and cancels it in PostgreSQL when
 * `signal` aborts (the client that asked closed its connection), so an answer no one will read no
 * longer holds a connection of the pool nor PostgreSQL's time. A statement whose signal aborted
 * before it started is not run; one that was sent a cancel rejects (57014, or the signal's
 * reason). A connection that was sent a cancel is closed rather than given back to the pool: the
 * cancel could reach it after its statement ended, and would cut another request's.
 */
export async function queryUntilAborted<R extends pg.QueryResultRow>(
  db: Db,
  signal: AbortSignal | undefined,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  if (!signal) return db.query<R>(text, values);
  signal.throwIfAborted();
  const client = await db.connect();
  let cancelSent = false;
  const cancel = () => {
    cancelSent = true;
    void sendCancelRequest(client);
  };
  try {
    signal.throwIfAborted();
    signal.addEventListener('abort', cancel, { once: true });
    return await client.query<R>(text, values);
  } finally {
    signal.removeEventListener('abort', cancel);
    client.release(cancelSent);
  }
}
