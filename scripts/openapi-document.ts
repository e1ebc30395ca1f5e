import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buildApp } from '../src/api/build-app.js';
import { loadConfig } from '../src/shared/config.js';
import { createPool } from '../src/shared/db/pool.js';
import { createLogger } from '../src/shared/logger.js';
import { createJobQueues, createProducerConnection, waitUntilReady } from '../src/shared/queues.js';
import { UploadStore } from '../src/shared/upload-store.js';

/**
 * Writes the service's OpenAPI document to the file named by the first argument (default
 * test-output/openapi.json), so it can be linted without starting a server. The app is built
 * exactly as the service builds it, from the usual configuration (DATABASE_URL, REDIS_URL, …);
 * nothing is queried, written or enqueued.
 */
async function writeOpenApiDocument(file: string): Promise<void> {
  const config = loadConfig();
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
