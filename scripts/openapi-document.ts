import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buildApp } from '../src/api/build-app.js';
import { type Config, loadConfig } from '../src/shared/config.js';
import { createPool } from '../src/shared/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { createJobQueues, createProducerConnection, waitUntilReady } from '../src/shared/queues.js';
import { UploadStore } from '../src/shared/upload-store.js';

/**
 * The default settings, with only where to reach PostgreSQL and Redis taken from the environment:
 * a setting such as MAX_UPLOAD_BYTES shows in the document, and the document written here (linted,
 * and turned into docs/) describes the service as it ships, whatever the local environment says.
 */
function documentConfig(): Config {
  const settings = loadConfig();
  return {
    ...loadConfig({}),
    DATABASE_URL: settings.DATABASE_URL,
    REDIS_URL: settings.REDIS_URL,
    REDIS_CLUSTER_NODES: settings.REDIS_CLUSTER_NODES,
    QUEUE_PREFIX: settings.QUEUE_PREFIX,
  };
}

/**
 * Writes the service's OpenAPI document to the file named by the first argument (default
 * test-output/openapi.json), so it can be linted and published without starting a server. The
 * app is built exactly as the service builds it, with {@link documentConfig}; nothing is
 * queried, written or enqueued.
 */
async function writeOpenApiDocument(file: string): Promise<void> {
  const config = documentConfig();
  const logger = createLogger('silent');
  const db = createPool(config.DATABASE_URL);
  const redis = createProducerConnection(config.REDIS_URL);
  try {
    await waitUntilReady(redis);
    const queues = createJobQueues(redis, config);
    const app = await buildApp({ config, db, redis, queues, uploads: new UploadStore(config.DATA_DIR), logger });
    await app.ready();
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(app.swagger(), null, 2)}\n`);
    await app.close();
    await queues.close();
  } finally {
    redis.disconnect();
    await db.end();
  }
}

await writeOpenApiDocument(process.argv[2] ?? 'test-output/openapi.json');
