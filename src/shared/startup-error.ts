import { socketPathOf } from './redis-url.js';

/**
 * A start that cannot go on for a reason an operator fixes outside the code: a backing service
 * (PostgreSQL, Redis) that cannot be used, a port or HOST the process cannot listen on, a migration
 * that fails. Printed as its one-line message, which names what failed and the variable that sets
 * it, as a configuration error is, rather than as a stack.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** A backing service the process cannot start without, and the variable that says where it is. */
export interface BackingService {
  name: 'PostgreSQL' | 'Redis';
  variable: string;
  url: string;
  defaultPort: number;
}

/** `host:port` (and `/database`) of a service URL, or the path of a Unix socket, without its user or password. */
function addressOf(url: string, defaultPort: number): string {
  if (!URL.canParse(url)) return 'its configured address';
  const socket = socketPathOf(url);
  if (socket !== null) return socket;
  const { hostname, port, pathname } = new URL(url);
  return `${hostname}:${port || defaultPort}${pathname.length > 1 ? pathname : ''}`;
}

/** The {@link StartupError} of `service` failing with `error` at start; a StartupError already is one. */
export function unusable(service: BackingService, error: unknown): StartupError {
  if (error instanceof StartupError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StartupError(
    `Failed to start: ${service.name} at ${addressOf(service.url, service.defaultPort)} (${service.variable}) cannot be used: ${reason}`,
    { cause: error },
  );
}

/** Runs `step`, the first use of a backing service; its failure becomes a {@link StartupError} naming the service. */
export async function reaching<T>(service: BackingService, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw unusable(service, error);
  }
}

/** Where one of the process's HTTP listeners opens: HOST, and its port with the variable that sets it. */
export interface ListenAddress {
  host: string;
  port: number;
  variable: 'PORT' | 'WORKER_PORT';
}

/** Why `listen` failed, in words that name the variable to change. */
function listenProblem(error: unknown, { host, port, variable }: ListenAddress): string {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} (${variable}) is already in use on ${host} (HOST)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `HOST ${host} cannot be resolved: ${message}`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine: ${message}`;
    case 'EACCES':
      return `port ${port} (${variable}) on ${host} (HOST) needs privileges this process lacks (ports below 1024 do): ${message}`;
    default:
      return `cannot listen on port ${port} (${variable}) of ${host} (HOST): ${message}`;
  }
}

/** Opens `server` on `at`; a failure becomes a {@link StartupError} naming HOST or the port's variable. */
export async function listening(server: { listen(options: { port: number; host: string }): Promise<unknown> }, at: ListenAddress): Promise<void> {
  try {
    await server.listen({ port: at.port, host: at.host });
  } catch (error) {
    throw new StartupError(`Failed to start: ${listenProblem(error, at)}`, { cause: error });
  }
}
