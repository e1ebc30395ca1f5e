import type { FastifyInstance } from 'fastify';

/** One method of one registered route, with its path as Fastify writes it (`/v1/jobs/:id`). */
export interface RegisteredRoute {
  method: string;
  path: string;
}

/**
 * Every route of a ready app, read from `printRoutes({ commonPrefix: false })`: a tree in which
 * each line is a path segment appended to its parent's, indented four columns per level.
 */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([\s│├└─]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4 - 1;
    const path = (depth > 0 ? parents[depth - 1]! : '') + match[2]!;
    parents[depth] = path;
    parents.length = depth + 1;
    for (const method of match[3]!.split(', ')) routes.push({ method, path });
  }
  return routes;
}

/** A Fastify path in OpenAPI's form: `/v1/jobs/:id` → `/v1/jobs/{id}`. */
export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}
