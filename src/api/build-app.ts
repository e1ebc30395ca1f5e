import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db/pool.js';
import type { JobQueues } from '../shared/queues.js';
import type { UploadStore } from '../shared/upload-store.js';
import { registerAuth } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/error-handler.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { importRoutes } from './routes/imports.js';
import { jobRoutes } from './routes/jobs.js';
import { productRoutes } from './routes/products.js';

/** Everything the API needs; a test passes its own database, Redis and queue prefix. */
export interface AppDeps {
  config: Config;
  db: Db;
  /** The producer connection (also used by /readyz). */
  redis: Redis;
  queues: JobQueues;
  uploads: UploadStore;
  logger: Logger;
}

/** A request id from the client's X-Request-Id when it is a sane token, else a new UUID. */
function requestId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[\w.:-]{1,128}$/.test(value) ? value : randomUUID();
}

/** Builds the HTTP API (not listening); the caller owns the dependencies and closes them. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: (request) => requestId(request.headers['x-request-id']),
    bodyLimit: 1024 * 1024,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerErrorHandling(app, deps.config.MAX_UPLOAD_BYTES);
  await app.register(multipart, { limits: { fileSize: deps.config.MAX_UPLOAD_BYTES, files: 1 } });
  registerAuth(app, { db: deps.db, adminApiKey: deps.config.ADMIN_API_KEY });

  healthRoutes(app, { db: deps.db, redis: deps.redis });
  adminRoutes(app, { db: deps.db });
  importRoutes(app, {
    db: deps.db,
    queues: deps.queues,
    uploads: deps.uploads,
    maxUploadBytes: deps.config.MAX_UPLOAD_BYTES,
  });
  jobRoutes(app, { db: deps.db });
  productRoutes(app, { db: deps.db });
  return app;
}
