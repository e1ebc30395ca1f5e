import type { Readable } from 'node:stream';
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { z } from 'zod';
import type { OpenStreams } from './open-streams.js';
import { accountIdOf } from './plugins/auth.js';

/** The job id of a streamed route's path; anything else is an unknown job (404), never a 400. */
const jobParams = z.object({ id: z.string() });

/** A request to a streamed route: its path names a job. */
export type JobRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * What a streamed route answers once its checks have passed (the job is the account's, finished,
 * its file still stored), before any of its body is read.
 */
export interface StreamedAnswer {
  /** 200 unless said otherwise: 206 for a byte range, 302 for a redirect to the storage, 304 for a copy still current. */
  status?: 200 | 206 | 302 | 304;
  /** Its headers (type, disposition, length where known, or the redirect's): a HEAD sends these alone. */
  headers: Record<string, string>;
  /**
   * Opens the body (the file, the report, the event stream), once the response is counted; only
   * a GET calls it. Absent for an answer without a body, which is not counted.
   */
  open?: (reply: FastifyReply) => Readable | Promise<Readable>;
}

/** A download or event stream of one job, served by GET and HEAD alike. */
export interface StreamedRoute {
  /** Its path, `/v1/jobs/:id/…`. */
  url: string;
  /** Its scope and other route options, the same for both methods. */
  config: FastifyContextConfig;
  /** The GET's schema, which the OpenAPI document shows (HEAD twins are left out of it). */
  schema: FastifySchema;
  /** The responses of this kind open on this process, bounded per account and in all. */
  streams: OpenStreams;
  /**
   * The route's checks and what it would send: the same for GET and HEAD, so both answer alike.
   * `reply` is for headers of an error it throws (a 416's Content-Range).
   */
  resolve: (request: JobRequest, reply: FastifyReply) => Promise<StreamedAnswer>;
}

/**
 * Registers GET and HEAD of a streamed route. Fastify's own HEAD twin would run the GET's handler
 * and throw its body away: a file opened, a report queried or an event stream started for nothing,
 * and a response held outside the bound of {@link OpenStreams}. This HEAD runs the same checks
 * (authentication and the account's limits too, as for any request) and sends the GET's headers,
 * without a body and without taking one of the open responses (RFC 9110 §9.3.2).
 */
export function streamedRoute(app: FastifyInstance, route: StreamedRoute): void {
  const schema = { ...route.schema, params: jobParams };
  app.get<{ Params: { id: string } }>(route.url, { exposeHeadRoute: false, config: route.config, schema }, async (request, reply) => {
    const answer = await route.resolve(request, reply);
    // A client gone already gets no body opened: a file, a report query or an event stream
    // nobody would ever close.
    if (!answer.open || !route.streams.open(accountIdOf(request), reply)) return headersOnly(reply, answer);
    const body = await answer.open(reply);
    return reply
      .code(answer.status ?? 200)
      .headers(answer.headers)
      .send(body);
  });
  app.head<{ Params: { id: string } }>(route.url, { config: route.config, schema: { params: jobParams } }, async (request, reply) =>
    headersOnly(reply, await route.resolve(request, reply)),
  );
}

const headersOnly = (reply: FastifyReply, answer: StreamedAnswer) =>
  reply
    .code(answer.status ?? 200)
    .headers(answer.headers)
    .send();
