import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK_URL_DESCRIPTION } from '../../src/shared/callbacks/callback-target.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A client reading only the OpenAPI document learns from each callback_url how callbacks are sent
// and verified (README "Job callbacks").

type Node = Record<string, unknown>;

let ctx: TestContext;
let document: Node;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  document = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json<Node>();
});
afterAll(async () => ctx?.close());

/** The schema a `$ref` names (`#/components/schemas/…`), or the node itself. */
function resolved(node: Node): Node {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  return ref.slice(2).split('/').reduce<Node>((at, key) => at[key] as Node, document);
}

/** Each `callback_url` under `node` (a query parameter or a body property) with its description, `$ref`s followed. */
function callbackUrlsUnder(node: unknown, where: string, found: Array<[string, unknown]>): Array<[string, unknown]> {
  if (Array.isArray(node)) {
    for (const item of node) callbackUrlsUnder(item, where, found);
  } else if (node && typeof node === 'object') {
    const object = resolved(node as Node);
    if (object.in === 'query' && object.name === 'callback_url') found.push([`${where} query`, object.description]);
    const properties = object.properties as Node | undefined;
    if (properties?.callback_url) found.push([`${where} body`, (properties.callback_url as Node).description]);
    for (const value of Object.values(object)) callbackUrlsUnder(value, where, found);
  }
  return found;
}

describe('callback_url in the OpenAPI document', () => {
  it('is described alike on every route that takes it: the POST, its signature, its headers, its retries and its refusals', () => {
    const paths = document.paths as Record<string, Record<string, Node>>;
    const found = Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods).flatMap(([method, operation]) =>
        callbackUrlsUnder([operation.parameters, operation.requestBody], `${method.toUpperCase()} ${path}`, []),
      ),
    );
    expect(found.map(([where]) => where).sort()).toEqual([
      'POST /v1/enrichments body',
      'POST /v1/export-schedules body',
      'POST /v1/exports body',
      'POST /v1/imports query',
    ]);
    for (const [, description] of found) expect(description).toBe(CALLBACK_URL_DESCRIPTION);
    for (const named of [
      'POSTed as JSON',
      '`X-Signature: t=<unix seconds>,v1=<hex>`',
      'HMAC-SHA256 of `<t>.<raw body>`',
      '`X-Job-Id: <job id>`',
      '`User-Agent: catalog-jobs-callback/1`',
      '`Content-Type: application/json; charset=utf-8`',
      'At least once',
      '`CALLBACK_MAX_ATTEMPTS`',
      '`CALLBACK_ALLOW_PRIVATE=true`',
    ]) {
      expect(CALLBACK_URL_DESCRIPTION).toContain(named);
    }
  });
});
