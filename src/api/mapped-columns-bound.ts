import type { FastifyRequest } from 'fastify';
import { MAPPED_COLUMNS_MESSAGE, tooManyMappedColumns } from '../shared/jobs/import-options.js';
import { badRequestBody } from './errors.js';

/**
 * A preValidation hook refusing a body whose `columns` mapping (under `within`: `export` in a
 * schedule) names more headers than a mapping may, with the 400 BAD_REQUEST its schema would
 * answer. The schema checks every header and target before it counts them: the tens of thousands
 * of entries a 1 MiB body holds took it seconds, holding the event loop, to refuse all the same.
 */
export function boundMappedColumns(within?: string): (request: FastifyRequest) => Promise<void> {
  const field = within ? `${within}.columns` : 'columns';
  return async (request) => {
    const body = request.body as Record<string, unknown> | null | undefined;
    const holder = within ? body?.[within] : body;
    const columns = typeof holder === 'object' && holder !== null ? (holder as { columns?: unknown }).columns : undefined;
    if (tooManyMappedColumns(columns)) throw badRequestBody([{ field, message: MAPPED_COLUMNS_MESSAGE }]);
  };
}
