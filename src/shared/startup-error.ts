/**
 * A backing service the process cannot start without (PostgreSQL, Redis) that is not reachable at
 * start: printed as its one-line message, which names the service, its address and the variable
 * that sets it, as a configuration error is, rather than as a stack.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** `host:port` (and `/database`) of a service URL, without its user or password. */
function addressOf(url: string, defaultPort: number): string {
  if (!URL.canParse(url)) return 'its configured address';
  const { hostname, port, pathname } = new URL(url);
  return `${hostname}:${port || defaultPort}${pathname.length > 1 ? pathname : ''}`;
}

/** Runs `step`, the first use of a backing service; its failure becomes a {@link StartupError} naming the service. */
export async function reaching<T>(
  service: { name: 'PostgreSQL' | 'Redis'; variable: string; url: string; defaultPort: number },
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError(
      `Failed to start: ${service.name} at ${addressOf(service.url, service.defaultPort)} (${service.variable}) cannot be used: ${reason}`,
      { cause: error },
    );
  }
}
