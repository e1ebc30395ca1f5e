import type { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { jobNotFound } from '../errors.js';
import { findVersionedJob } from '../../shared/jobs/job-event-queries.js';
import type { JobChangeListener } from '../job-events/job-change-listener.js';
import { openJobEventStream, sharedJobReads, type JobEventTimings } from '../job-events/job-event-stream.js';
import type { StreamCredentials } from '../job-events/stream-credentials.js';
import type { OpenStreams } from '../open-streams.js';
import { apiKeyPrincipalOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses } from '../schemas.js';
import { streamedRoute } from '../streamed-route.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';

const EVENTS_DESCRIPTION = `Server-Sent Events (\`text/event-stream\`) of one job, instead of polling GET /v1/jobs/{id}.
Each event's \`data\` is the job resource (the \`Job\` schema) and its \`id\` the version of that state.
An event \`job\` comes at once, then one at each phase or status change and at most about once a second
while the counts move; the event \`end\` carries the final state, after which the server closes the stream.
Lines starting with \`:\` are heartbeats. Send \`Last-Event-ID\` to resume: states up to that id are not sent
again (an ended job still gets its \`end\` event). The whole stream counts as one request toward the limits.
When the key stops working while the stream is open (revoked, expired, its account suspended), an event
\`error\` comes at once and the server closes the stream: its \`data\` is the error envelope that the key's
next request gets, with that answer's \`status\` (401 \`INVALID_API_KEY\`, 401 \`API_KEY_EXPIRED\`,
403 \`ACCOUNT_SUSPENDED\`); reconnecting gets that answer.`;

export interface JobEventRouteDeps {
  db: Db;
  listener: JobChangeListener;
  timings: JobEventTimings;
  /** The event streams open on this process, bounded per account and in all. */
  streams: OpenStreams;
  /** Ends a stream when its key stops working. */
  credentials: StreamCredentials;
}

/** The version a resuming client saw last (Last-Event-ID), or 0 for a new stream. */
function lastEventIdOf(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : 0;
}

/** GET /v1/jobs/{id}/events: a job's changes pushed to the client (API.md §7); HEAD: its headers alone. */
export function jobEventRoutes(app: FastifyInstance, deps: JobEventRouteDeps): void {
  const openStreams = new Set<PassThrough>();
  const readJob = sharedJobReads(deps.db);
  // A closing server waits for its open responses: streams end first (clients resume elsewhere).
  app.addHook('preClose', async () => {
    for (const body of openStreams) body.end();
  });
  streamedRoute(app, {
    url: '/v1/jobs/:id/events',
    config: { scope: 'jobs:read' },
    schema: {
      operationId: 'streamJobEvents',
      summary: "A job's progress as Server-Sent Events",
      description: EVENTS_DESCRIPTION,
      headers: z.object({ 'last-event-id': z.string().max(32).optional().describe('The id of the last event received') }).loose(),
      response: {
        200: {
          description: 'The event stream; it ends after the `end` event, or an `error` event when the key stops working',
          content: { 'text/event-stream': { schema: z.any().meta({ type: 'string' }) } },
        },
        ...errorResponses(404, ...AUTH_ERRORS),
      },
    },
    streams: deps.streams,
    resolve: async (request) => {
      const key = apiKeyPrincipalOf(request);
      const accountId = key.accountId;
      const job = UUID.test(request.params.id) ? await findVersionedJob(deps.db, accountId, request.params.id) : null;
      if (!job) throw jobNotFound();
      return {
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' },
        open: (reply) => {
          const lastEventId = lastEventIdOf(request.headers['last-event-id']);
          const streamDeps = { readJob, listener: deps.listener, timings: deps.timings, logger: request.log };
          const stream = openJobEventStream(streamDeps, accountId, job, lastEventId);
          const body = stream.body;
          openStreams.add(body);
          // A stream that ended at once (the job is over) needs no watching.
          if (!body.writableEnded) body.once('close', deps.credentials.watch(key, (refusal) => stream.refuse(refusal)));
          body.once('close', () => openStreams.delete(body));
          reply.raw.on('close', () => body.destroy());
          return body;
        },
      };
    },
  });
}
