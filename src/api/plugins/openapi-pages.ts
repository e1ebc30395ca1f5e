import { z } from 'zod';
import { errorEnvelopeSchema, errorResponses } from '../../shared/http/error-envelope.js';
import { noted } from '../../shared/http/response-notes.js';
import { DASHBOARD_PATH, dashboardClosed, dashboardSignIn } from '../dashboard.js';
import { invalidApiKey } from '../errors.js';

/**
 * The web pages the service serves beside the API: Swagger UI and the queue dashboard (Bull
 * Board). Each entry page is an operation of the document, described here since the plugins that
 * serve them bring no schema; their assets and the dashboard's own API are left out.
 */

/** Where Swagger UI is served. */
export const DOCS_PREFIX = '/docs';

const PAGES = [DOCS_PREFIX, DASHBOARD_PATH];

/**
 * Routes under a page's path: its assets, the dashboard's own API, Swagger UI's copies of the
 * document, and the entry page again with a trailing slash. Only the entry page is documented.
 */
export function isUndocumentedPage(url: string): boolean {
  return PAGES.some((prefix) => url.startsWith(`${prefix}/`));
}

/** The dashboard's credential: its browser asks for it, with the `WWW-Authenticate` challenge of a 401. */
export const DASHBOARD_SECURITY_SCHEME = {
  type: 'http' as const,
  scheme: 'basic',
  description: 'HTTP Basic auth: any user name, the operator key (ADMIN_API_KEY) as password',
};

const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

const CHALLENGE = {
  'WWW-Authenticate': {
    description: 'Basic, so that a browser asks for the user name and password',
    required: true,
    type: 'string' as const,
    pattern: '^Basic ',
  },
};

const PAGE_SCHEMAS: Record<string, Record<string, unknown>> = {
  [DOCS_PREFIX]: {
    operationId: 'getApiReferencePage',
    security: [],
    summary: 'This reference as a web page (Swagger UI)',
    description: 'Swagger UI over GET /openapi.json; its assets are served under /docs/.',
    response: { 200: html('The Swagger UI page') },
  },
  [DASHBOARD_PATH]: {
    operationId: 'getQueueDashboard',
    summary: 'Queue dashboard (operators, a web page)',
    description:
      'Bull Board: every job queue, its jobs and their retries, for operators in a browser; its assets and its own API ' +
      `under ${DASHBOARD_PATH}/ are not listed here. Needs HTTP Basic auth: any user name, the operator key (ADMIN_API_KEY) as password. ` +
      'Without ADMIN_API_KEY the dashboard is closed (401). Wrong passwords count toward the per-address limit on ' +
      'invalid API keys; past it, 429.',
    security: [{ dashboardBasicAuth: [] }],
    response: {
      200: html('The dashboard page'),
      401: noted(errorEnvelopeSchema, {
        codes: ['AUTHENTICATION_REQUIRED', 'INVALID_API_KEY'],
        headers: CHALLENGE,
        sentences: { AUTHENTICATION_REQUIRED: [dashboardClosed().message, dashboardSignIn().message], INVALID_API_KEY: [invalidApiKey().message] },
      }),
      ...errorResponses(429),
    },
  },
};

/**
 * The document's path and schema of the page served at `url` with `method`, if it is an entry
 * page. Its plugin registers it under the page's path with a trailing slash (`/docs/`), and Fastify
 * serves it without one too: the document names it without.
 */
export function entryPage(method: string | string[], url: string): { path: string; schema: Record<string, unknown> } | undefined {
  const path = url.replace(/(.)\/$/, '$1');
  const schema = PAGE_SCHEMAS[path];
  return schema && [method].flat().includes('GET') ? { path, schema } : undefined;
}
