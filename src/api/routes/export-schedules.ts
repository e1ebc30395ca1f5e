import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisConnection } from '../../shared/redis-connection.js';
import { z } from 'zod';
import type { Config } from '../../shared/config.js';
import { rejectInvalidQuery } from '../body-validation.js';
import { boundedPageOf, decodeCursor, isNewestFirstPosition } from '../cursor.js';
import type { Db } from '../../shared/db/pool.js';
import { badRequestBody, idempotencyKeyReused, limitExceeded, notFound, serviceUnavailable } from '../errors.js';
import type { FieldProblem } from '../../shared/field-problems.js';
import { boundMappedColumns } from '../mapped-columns-bound.js';
import { exportRequestSchema, parseExportRequest, type ExportOptions } from '../../shared/jobs/export-options.js';
import { idempotencyKeyHeader, idempotencyKeyOf, requestHashOf } from '../job-acceptance.js';
import {
  deleteExportSchedule,
  findExportSchedule,
  insertExportSchedule,
  listExportSchedules,
  type ExportScheduleRow,
} from '../../shared/schedules/export-schedule-queries.js';
import { shortestIntervalMinutes } from '../../shared/schedules/cron-interval.js';
import { ExportScheduler, nextRunAt, timingProblems } from '../../shared/schedules/export-scheduler.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorCodes, errorResponses, errorSentences, pageQueryFields, pageSchema } from '../schemas.js';
import { bodyOptionsOnlyQuery } from '../strict-query.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';
import { answeredInstant } from '../../shared/instant.js';


/** A 5-field cron fits easily (even with lists); an IANA zone name is at most about 30 characters. */
const MAX_CRON_LENGTH = 200;
const MAX_TIMEZONE_LENGTH = 64;

const scheduleBody = z.object({
  cron: z.string().max(MAX_CRON_LENGTH).meta({ description: 'Standard 5-field cron: minute hour day-of-month month day-of-week.' }),
  timezone: z.string().max(MAX_TIMEZONE_LENGTH).optional().meta({ description: 'IANA time zone the cron is read in; default UTC.' }),
  export: exportRequestSchema,
});

const scheduleSchema = z
  .object({
    id: z.uuid(),
    cron: z.string(),
    timezone: z.string(),
    next_run_at: answeredInstant(),
    export: z.record(z.string(), z.unknown()),
    created_at: answeredInstant(),
  })
  .meta({ id: 'ExportSchedule' });

function toScheduleResource(schedule: ExportScheduleRow, now = new Date()) {
  return {
    id: schedule.id,
    cron: schedule.cron,
    timezone: schedule.timezone,
    next_run_at: nextRunAt(schedule, now).toISOString(),
    export: { ...schedule.export },
    created_at: schedule.created_at.toISOString(),
  };
}

/** The problem of a cron that fires more often than every `minimum` minutes, if it does. */
function intervalProblems(cron: string, minimum: number): FieldProblem[] {
  const shortest = shortestIntervalMinutes(cron);
  if (shortest >= minimum) return [];
  const apart = shortest === 1 ? '1 minute' : `${shortest} minutes`;
  return [{ field: 'cron', message: `The cron expression '${cron}' has runs ${apart} apart; export schedules may run at most once every ${minimum} minutes.` }];
}

/** The problems of a schedule's cron and time zone, and the timing they make when there are none. */
function timingOf(value: Record<string, unknown>, minInterval: number): { timing?: { cron: string; timezone: string }; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  if (typeof value.cron !== 'string' || value.cron.trim() === '') {
    problems.push({ field: 'cron', message: 'The cron field is required: a 5-field cron expression such as "0 3 * * *".' });
  } else if (value.cron.length > MAX_CRON_LENGTH) {
    problems.push({ field: 'cron', message: `The cron field must be at most ${MAX_CRON_LENGTH} characters.` });
  }
  // No IANA zone name is longer than the bound: a longer one is refused as unknown, unparsed.
  if (value.timezone !== undefined && (typeof value.timezone !== 'string' || value.timezone.length > MAX_TIMEZONE_LENGTH)) {
    problems.push({ field: 'timezone', message: 'timezone must be an IANA time zone name such as Europe/Berlin.' });
  }
  if (problems.length > 0) return { problems };
  const timing = { cron: (value.cron as string).trim().split(/\s+/).join(' '), timezone: (value.timezone as string | undefined) ?? 'UTC' };
  problems.push(...timingProblems(timing));
  if (problems.length === 0) problems.push(...intervalProblems(timing.cron, minInterval));
  return problems.length > 0 ? { problems } : { timing, problems };
}

/**
 * Validates a schedule body: 400 BAD_REQUEST for a bad cron, time zone or export, or a cron
 * that runs more often than every `minInterval` minutes, with every problem in `errors`.
 */
function scheduleOf(body: unknown, minInterval: number): { cron: string; timezone: string; exportBody: unknown; options: ExportOptions } {
  const value = (body ?? {}) as Record<string, unknown>;
  const { timing, problems } = timingOf(value, minInterval);
  const exported = value.export === undefined ? null : parseExportRequest(value.export, 'export.');
  if (!exported) problems.push({ field: 'export', message: 'The export field is required.' });
  else if (!exported.ok) problems.push(...exported.problems);
  if (!timing || !exported?.ok) throw badRequestBody(problems);
  return { ...timing, exportBody: value.export, options: exported.options };
}


/**
 * Export schedules (API.md §4): each is a row in PostgreSQL plus a BullMQ job scheduler of the
 * same id; every tick starts a normal export job carrying the schedule's id.
 */
export function exportScheduleRoutes(
  app: FastifyInstance,
  deps: { db: Db; redis: RedisConnection; config: Config; scheduler: ExportScheduler },
): void {
  const { scheduler } = deps;
  // As the job queues (see buildApp): not serving with a queue whose start timed out.
  app.addHook('onReady', async () => {
    if (deps.redis.status === 'ready') await scheduler.queue.waitUntilReady();
  });
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const config = { scope: 'exports:write' as const };
  const scheduleParams = z.object({ id: z.string() });

  routes.post(
    '/v1/export-schedules',
    {
      config,
      attachValidation: true,
      preValidation: boundMappedColumns('export'),
      schema: {
        operationId: 'createExportSchedule',
        summary: 'Schedule a recurring export',
        description:
          'At each time the cron names (in `timezone`), an export starts as POST /v1/exports would start it with `export`. ' +
          'With an `Idempotency-Key`, a repeat of the request within 24 hours returns the schedule the first one created ' +
          '(201, the same id) while that schedule exists; the key with another request is a 422. ' +
          'The options are body fields: a query parameter is a 400 naming it; no schedule is created.',
        body: scheduleBody,
        querystring: bodyOptionsOnlyQuery,
        headers: z.object({ 'idempotency-key': idempotencyKeyHeader('the schedule the first request created (201, the same id) while it exists') }).loose(),
        // 422: an Idempotency-Key already used with another request (API.md §4).
        response: {
          201: scheduleSchema,
          ...errorResponses(400, ...AUTH_ERRORS),
          ...errorSentences(422, 'VALIDATION_ERROR', idempotencyKeyReused().message),
          ...errorCodes(409, 'LIMIT_EXCEEDED'),
        },
      },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      rejectInvalidQuery(request);
      const { cron, timezone, exportBody, options } = scheduleOf(request.body, deps.config.EXPORT_SCHEDULE_MIN_INTERVAL_MINUTES);
      const idempotencyKey = idempotencyKeyOf(request);
      // The schedule as stored, and the callback_url it ignores: another one is another request.
      const callbackUrl = (exportBody as { callback_url?: unknown }).callback_url;
      const requestHash = requestHashOf(idempotencyKey, JSON.stringify({ cron, timezone, export: options }), JSON.stringify(callbackUrl ?? null));
      const max = deps.config.MAX_EXPORT_SCHEDULES_PER_ACCOUNT;
      const outcome = await insertExportSchedule(
        deps.db,
        accountId,
        { id: randomUUID(), cron, timezone, export: options, idempotencyKey: idempotencyKey ?? null, requestHash },
        max,
      );
      if ('limitReached' in outcome) {
        throw limitExceeded(`The account has ${max} export schedules, the most it may have: delete one before creating another.`, max);
      }
      // A retry of a creation (same Idempotency-Key, same request): the schedule it made, as then.
      if ('earlier' in outcome) {
        if (outcome.requestHash !== requestHash) throw idempotencyKeyReused();
        return reply.code(201).send(toScheduleResource(outcome.earlier));
      }
      const schedule = outcome.created;
      try {
        await scheduler.upsert(schedule);
      } catch (error) {
        request.log.warn({ err: error }, 'could not register the export schedule');
        await deleteExportSchedule(deps.db, accountId, schedule.id).catch(() => {});
        throw serviceUnavailable('The job queue is unavailable; the schedule was not created. Try again shortly.');
      }
      return reply.code(201).send(toScheduleResource(schedule));
    },
  );

  routes.get(
    '/v1/export-schedules',
    {
      config,
      schema: {
        operationId: 'listExportSchedules',
        summary: "List the account's export schedules (cursor-paginated)",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(scheduleSchema), ...errorResponses(400, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isNewestFirstPosition) : undefined;
      const page = await listExportSchedules(deps.db, accountIdOf(request), {
        limit,
        after: after && { createdAt: after[0], id: after[1] },
      });
      const now = new Date();
      return boundedPageOf(
        page,
        (row) => [row.created_at_key, row.id],
        (row) => toScheduleResource(row, now),
      );
    },
  );

  routes.delete(
    '/v1/export-schedules/:id',
    {
      config,
      schema: {
        operationId: 'deleteExportSchedule',
        summary: 'Delete an export schedule',
        params: scheduleParams,
        response: { 204: z.null(), ...errorResponses(404, ...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const accountId = accountIdOf(request);
      const { id } = request.params;
      const schedule = UUID.test(id) ? await findExportSchedule(deps.db, accountId, id) : null;
      if (!schedule) throw notFound('Export schedule not found.');
      // The scheduler first: if Redis is down the schedule stays whole and the client can retry.
      try {
        await scheduler.remove(schedule.id);
      } catch (error) {
        request.log.warn({ err: error }, 'could not remove the export schedule');
        throw serviceUnavailable('The job queue is unavailable; the schedule was not deleted. Try again shortly.');
      }
      await deleteExportSchedule(deps.db, accountId, schedule.id);
      return reply.code(204).send(null);
    },
  );
}
