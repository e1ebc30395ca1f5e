import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { boundedPageOf, decodeCursor, isNewestFirstPosition } from '../cursor.js';
import type { Db } from '../../shared/db/pool.js';
import { AppError, badRequestBody, notFound } from '../errors.js';
import { boundMappedColumns } from '../mapped-columns-bound.js';
import { zodIssueProblems } from '../../shared/field-problems.js';
import { importProfileBodySchema, type ImportProfileSettings } from '../../shared/imports/import-profile.js';
import { DECIMAL_SEPARATORS, IMPORT_ENCODINGS, importModeSchema, importOptionsSchema, onErrorSchema } from '../../shared/jobs/import-options.js';
import {
  deleteImportProfile,
  findImportProfile,
  insertImportProfile,
  isDuplicateName,
  listImportProfiles,
  updateImportProfile,
  type ImportProfileRow,
} from '../../shared/imports/import-profile-queries.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorCodes, errorResponses, pageQueryFields, pageSchema } from '../schemas.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';
import { answeredInstant } from '../../shared/instant.js';

/** A profile as answered: each setting as the import takes it (a delimiter as its character), null when not set. */
const profileSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    columns: z.record(z.string(), z.string()).nullable(),
    delimiter: importOptionsSchema.shape.delimiter,
    encoding: z.enum(IMPORT_ENCODINGS).nullable(),
    decimal_separator: z.enum(DECIMAL_SEPARATORS).nullable(),
    sheet: z.string().nullable(),
    mode: importModeSchema.nullable(),
    on_error: onErrorSchema.nullable(),
    created_at: answeredInstant(),
    updated_at: answeredInstant(),
  })
  .meta({ id: 'ImportProfile' });

function toProfileResource(profile: ImportProfileRow) {
  const { settings } = profile;
  return {
    id: profile.id,
    name: profile.name,
    columns: settings.columns ?? null,
    delimiter: settings.delimiter ?? null,
    encoding: settings.encoding ?? null,
    decimal_separator: settings.decimal_separator ?? null,
    sheet: settings.sheet ?? null,
    mode: settings.mode ?? null,
    on_error: settings.on_error ?? null,
    created_at: profile.created_at.toISOString(),
    updated_at: profile.updated_at.toISOString(),
  };
}

/**
 * Validates a profile body: 400 BAD_REQUEST naming the first problem (an unknown target, delimiter,
 * encoding or mode, a missing name), the first 20 of them in `errors` (API.md §1 keeps 422 for product bodies).
 */
function profileOf(body: unknown): { name: string; settings: ImportProfileSettings } {
  const parsed = importProfileBodySchema.safeParse(body ?? undefined);
  if (!parsed.success) {
    throw badRequestBody(zodIssueProblems(parsed.error.issues));
  }
  const { name, ...settings } = parsed.data;
  return { name, settings };
}

const nameTaken = (name: string) =>
  new AppError(409, 'DUPLICATE_NAME', `An import profile named '${name}' already exists in this account.`);

/** Runs a write that may meet the unique name index: 409 DUPLICATE_NAME then. */
async function uniqueName<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isDuplicateName(error)) throw nameTaken(name);
    throw error;
  }
}

/** Saved import profiles (API.md §7): CRUD, scoped to the account; another account's is 404. */
export function importProfileRoutes(app: FastifyInstance, deps: { db: Db }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const config = { scope: 'imports:write' as const };
  const params = z.object({ id: z.string() });
  const ownProfile = async (accountId: string, id: string) => {
    const profile = UUID.test(id) ? await findImportProfile(deps.db, accountId, { id, name: '' }) : null;
    if (!profile) throw notFound('Import profile not found.');
    return profile;
  };
  // The body is checked in the handler, so that the 400 says the problem in the profile's own
  // words and lists every one in `errors` (not the generic 'Invalid field' of one schema issue).
  const write = { config, attachValidation: true, preValidation: boundMappedColumns() };

  routes.post(
    '/v1/import-profiles',
    {
      ...write,
      schema: {
        operationId: 'createImportProfile',
        summary: 'Save an import profile',
        description: 'Import settings that POST /v1/imports?profile= applies, by id or name; names are unique per account.',
        body: importProfileBodySchema,
        response: { 201: profileSchema, ...errorResponses(400, ...AUTH_ERRORS), ...errorCodes(409, 'DUPLICATE_NAME') },
      },
    },
    async (request, reply) => {
      const profile = profileOf(request.body);
      const row = await uniqueName(profile.name, () => insertImportProfile(deps.db, accountIdOf(request), { id: randomUUID(), ...profile }));
      return reply.code(201).send(toProfileResource(row));
    },
  );

  routes.get(
    '/v1/import-profiles',
    {
      config,
      schema: {
        operationId: 'listImportProfiles',
        summary: "List the account's import profiles (cursor-paginated)",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(profileSchema), ...errorResponses(400, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isNewestFirstPosition) : undefined;
      const page = await listImportProfiles(deps.db, accountIdOf(request), { limit, after: after && { createdAt: after[0], id: after[1] } });
      return boundedPageOf(page, (row) => [row.created_at_key, row.id], toProfileResource);
    },
  );

  routes.get(
    '/v1/import-profiles/:id',
    {
      config,
      schema: { operationId: 'getImportProfile', summary: 'One import profile by id', params, response: { 200: profileSchema, ...errorResponses(404, ...AUTH_ERRORS) } },
    },
    async (request) => toProfileResource(await ownProfile(accountIdOf(request), request.params.id)),
  );

  routes.put(
    '/v1/import-profiles/:id',
    {
      ...write,
      schema: {
        operationId: 'replaceImportProfile',
        summary: 'Replace an import profile',
        params,
        body: importProfileBodySchema,
        response: { 200: profileSchema, ...errorResponses(400, 404, ...AUTH_ERRORS), ...errorCodes(409, 'DUPLICATE_NAME') },
      },
    },
    async (request) => {
      const accountId = accountIdOf(request);
      const { id } = await ownProfile(accountId, request.params.id);
      const profile = profileOf(request.body);
      const row = await uniqueName(profile.name, () => updateImportProfile(deps.db, accountId, { id, ...profile }));
      if (!row) throw notFound('Import profile not found.');
      return toProfileResource(row);
    },
  );

  routes.delete(
    '/v1/import-profiles/:id',
    {
      config,
      schema: { operationId: 'deleteImportProfile', summary: 'Delete an import profile', params, response: { 204: z.null(), ...errorResponses(404, ...AUTH_ERRORS) } },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      const { id } = await ownProfile(accountId, request.params.id);
      await deleteImportProfile(deps.db, accountId, id);
      return reply.code(204).send(null);
    },
  );
}
