import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { jobNotFinished, notFound } from '../../shared/errors.js';
import { exportContentType, exportFileName } from '../../shared/jobs/export-file.js';
import { exportOptionsSchema } from '../../shared/jobs/export-options.js';
import { findJob } from '../../shared/jobs/job-queries.js';
import type { UploadStore } from '../../shared/upload-store.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses } from '../schemas.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The file body of a result download (documented for OpenAPI; streamed, never serialized). */
const resultFileSchema = z.any().meta({ description: 'The export file: CSV, NDJSON, or either gzipped.' });

/**
 * GET /v1/jobs/{id}/result: streams a completed export's file. 409 JOB_NOT_FINISHED while the
 * export runs; 404 for an unknown id, another account's job, a job that is not an export, an
 * export that failed or was cancelled, and one whose file the retention has removed.
 */
export function jobResultRoutes(app: FastifyInstance, deps: { db: Db; files: UploadStore }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/jobs/:id/result',
    {
      config: { scope: 'jobs:read' },
      schema: {
        params: z.object({ id: z.string() }),
        response: { 200: resultFileSchema, ...errorResponses(404, 409, ...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const job = UUID.test(id) ? await findJob(deps.db, accountIdOf(request), id) : null;
      if (!job || job.type !== 'export') throw notFound('Job not found.');
      if (job.status === 'processing') throw jobNotFinished();
      if (job.status !== 'completed') throw notFound(`This export ended ${job.status} and has no result file.`);
      const options = exportOptionsSchema.parse(job.options);
      const expired = () => notFound('The export file is no longer available: export files are kept for a limited time.');
      if (!job.result_path) throw expired();
      const path = deps.files.absolute(job.result_path);
      const size = await stat(path).then(
        (file) => file.size,
        () => null,
      );
      if (size === null) throw expired();
      return reply
        .header('content-type', exportContentType(options))
        .header('content-disposition', `attachment; filename="${exportFileName(job.id, job.finished_at!, options)}"`)
        .header('content-length', String(size))
        .send(createReadStream(path, { highWaterMark: 1 << 20 }));
    },
  );
}
