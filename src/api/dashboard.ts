import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, invalidApiKey } from '../shared/errors.js';
import { JOB_TYPES } from '../shared/jobs/job-row.js';
import type { JobQueues } from '../shared/queues.js';
import { sendError } from './plugins/error-handler.js';

/** Where the queue dashboard is served (API.md §2). */
export const DASHBOARD_PATH = '/admin/queues';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** The password of an HTTP Basic `Authorization` header (any user name), or null. */
function basicPassword(request: FastifyRequest): string | null {
  const match = /^Basic\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

function challenge(reply: FastifyReply, error: AppError): FastifyReply {
  reply.header('www-authenticate', 'Basic realm="catalog queues", charset="UTF-8"');
  return sendError(reply, error);
}

/**
 * Bull Board at /admin/queues for every job queue, behind HTTP Basic auth: any user name, the
 * operator key (ADMIN_API_KEY) as password. A 401 carries `WWW-Authenticate`, so a browser asks
 * for the credentials; without ADMIN_API_KEY the dashboard is closed. Its routes stay out of the
 * OpenAPI document.
 */
export async function registerDashboard(app: FastifyInstance, deps: { queues: JobQueues; adminApiKey?: string | undefined }): Promise<void> {
  const adminHash = deps.adminApiKey ? sha256(deps.adminApiKey) : null;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: JOB_TYPES.map((type) => new BullMQAdapter(deps.queues.queue(type))),
    // @bull-board/fastify ships its own copy of @bull-board/api's types; the runtime contract is the same.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'Catalog jobs' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, hide: true };
    });
    scope.addHook('onRequest', async (request, reply) => {
      const password = basicPassword(request);
      if (!adminHash) {
        return challenge(reply, new AppError(401, 'AUTHENTICATION_REQUIRED', 'Missing API key: the queue dashboard needs ADMIN_API_KEY to be set.'));
      }
      if (password === null) {
        return challenge(reply, new AppError(401, 'AUTHENTICATION_REQUIRED', 'Missing API key: sign in with any user name and the operator key as password.'));
      }
      if (!timingSafeEqual(sha256(password), adminHash)) return challenge(reply, invalidApiKey());
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  });
}
