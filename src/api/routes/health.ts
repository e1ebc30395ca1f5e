import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Db } from '../../shared/db/pool.js';
import { AppError } from '../../shared/errors.js';
import { sendError } from '../plugins/error-handler.js';

const CHECK_TIMEOUT_MS = 2_000;

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz (the process runs) and GET /readyz (PostgreSQL and Redis answer), API.md §5. */
export function healthRoutes(app: FastifyInstance, deps: { db: Db; redis: Redis }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [postgres, redis] = await Promise.all([
      check(() => deps.db.query('SELECT 1')),
      check(() => deps.redis.ping()),
    ]);
    const checks = { postgres, redis };
    if (postgres === 'ok' && redis === 'ok') return { status: 'ready', checks };
    const down = Object.entries(checks).filter(([, state]) => state !== 'ok').map(([name]) => name);
    return sendError(
      reply,
      new AppError(503, 'SERVICE_UNAVAILABLE', `Not ready: ${down.join(' and ')} unreachable.`, {
        checks,
        retry_after_seconds: 5,
      }),
    );
  });
}
