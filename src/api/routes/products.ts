import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { boundedPageOf, decodeCursor, keysetPosition, textPart } from '../cursor.js';
import type { Db } from '../../shared/db/pool.js';
import { badRequest, duplicateEan, productNotFound, validationError } from '../errors.js';
import { changedNumbersOf } from '../json-body.js';
import { schemaIssueProblems, type FieldProblem } from '../../shared/field-problems.js';
import { unknownBodyFields } from '../unknown-body-fields.js';
import { listProducts } from '../../shared/product/list-products.js';
import { patchProduct } from '../../shared/product/patch-product.js';
import { deleteProduct, insertProduct, productFinder, replaceProduct, type ProductResource } from '../../shared/product/product-queries.js';
import { PRODUCT_READ_ONLY_FIELDS, productResourceSchema } from '../../shared/product/resource-schema.js';
import { ATTRIBUTE_COUNT_MESSAGE, tooManyAttributes } from '../../shared/product/attribute-rules.js';
import { changedNumberMessage } from '../../shared/product/exact-numbers.js';
import {
  CURRENCY_REQUIRED_MESSAGE,
  eanSchema,
  PRODUCT_FIELDS,
  productCreateBodySchema,
  productPatchBodySchema,
  productReplaceBodySchema,
  type ProductInput,
} from '../../shared/product/schema.js';
import { MAX_FILTER_LENGTH } from '../../shared/input-bounds.js';
import { instantSchema } from '../../shared/instant.js';
import { AUTH_ERRORS, errorCodes, errorResponses, errorSentences, locationHeader, pageQueryFields, pageSchema } from '../schemas.js';
import { noted } from '../../shared/http/response-notes.js';
import { accountIdOf } from '../plugins/auth.js';
import { prefetched, type Lookup } from '../prefetch.js';
import type { ProductWrites } from '../product-writes.js';
import type { AccountPlaces } from '../account-places.js';

const eanParams = z.object({
  ean: z.string().meta({ description: 'The EAN, matched exactly as sent (no check-digit validation on lookup)' }),
});

const listQuery = z.object({
  brand: z.string().max(MAX_FILTER_LENGTH).optional().meta({ description: 'Exact brand' }),
  category: z.string().max(MAX_FILTER_LENGTH).optional().meta({ description: 'Exact category' }),
  updated_since: instantSchema()
    .optional()
    .meta({ description: 'Only products written at or after this ISO 8601 instant' }),
  q: z.string().max(MAX_FILTER_LENGTH).optional().meta({ description: 'Case-insensitive substring of the name' }),
  ...pageQueryFields,
});

const isEanPosition = keysetPosition<[string]>(textPart);

/** Where the product `ean` is read: the `Location` of a 201 that created it. */
const productLocation = (ean: string) => `/v1/products/${encodeURIComponent(ean)}`;

/** A product created by POST, or by a PUT to an EAN not in the catalog, with `Location` (API.md §3). */
const createdProductSchema = noted(productResourceSchema, { headers: locationHeader('The product: `/v1/products/{ean}`') });

/** The 404 of a product's EAN the catalog does not have. */
const PRODUCT_NOT_FOUND = errorSentences(404, 'NOT_FOUND', productNotFound().message);

const EAN_MISMATCH = 'The EAN in the body must match the EAN in the path.';

/**
 * The 422 of a product body that fails field validation (API.md §1): `error` is the first problem,
 * `errors` all of them. Bodies are validated with `attachValidation`, so that this route answers
 * 422 rather than the 400 of a malformed request; a body that is not a JSON object is a 400.
 */
function bodyProblems(request: FastifyRequest): FieldProblem[] {
  const failure = request.validationError;
  if (!failure) return [];
  if (failure.validationContext !== 'body') throw failure;
  const body: unknown = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  // All of them (API.md §1): boundAttributes has already refused a body with too many names.
  return schemaIssueProblems(failure.validation, undefined, Infinity);
}

/** The EAN of a PUT or PATCH body: absent or equal to the path's; anything else is a problem. */
function eanMismatch(body: unknown, pathEan: string): FieldProblem[] {
  const bodyEan = (body as { ean?: unknown } | null)?.ean;
  return bodyEan !== undefined && bodyEan !== pathEan ? [{ field: 'ean', message: EAN_MISMATCH }] : [];
}

/** Whether a path EAN can name a product: one with a NUL character cannot (PostgreSQL stores none). */
const storable = (ean: string) => !ean.includes('\u0000');

/** The names of a product body that the product does not have: a client's `color` beside `name` is refused, not silently lost. */
const unknownFields = unknownBodyFields(PRODUCT_FIELDS, PRODUCT_READ_ONLY_FIELDS);

/**
 * The problems of a product body ({@link bodyProblems}) and its attribute numbers that JSON.parse
 * changed (see json-body.ts): stored, 9007199254740993 would silently be 9007199254740992. Such
 * an attribute is named for its number alone: the schema calls 1e400, read as Infinity, no number.
 * A number nested deeper is not an attribute value, which the schema refuses.
 */
function productBodyProblems(request: FastifyRequest): FieldProblem[] {
  const numbers = changedNumbersOf(request)
    .filter(({ path }) => path.length === 2)
    .map((changed) => ({ field: `attributes.${changed.path[1]}`, message: changedNumberMessage(String(changed.path[1]), changed) }));
  const fields = new Set(numbers.map((problem) => problem.field));
  return [...bodyProblems(request).filter((problem) => !fields.has(problem.field)), ...numbers, ...unknownFields.problems(request)];
}

function throwIfAny(problems: FieldProblem[]): void {
  if (problems.length > 0) throw validationError(problems, 422);
}

/**
 * Refuses a body with more attribute names than a product may have before its schema checks them
 * one by one: tens of thousands of names fit in a 1 MiB body and would hold the event loop for a
 * tenth of a second or more on every request. Notes the body's unknown names ({@link unknownFields}).
 */
async function boundAttributes(request: FastifyRequest): Promise<void> {
  const attributes = (request.body as { attributes?: unknown } | null)?.attributes;
  if (tooManyAttributes(attributes)) throw validationError([{ field: 'attributes', message: ATTRIBUTE_COUNT_MESSAGE }], 422);
  await unknownFields.note(request);
}


/**
 * Product routes of API.md §3: the account's own catalog, by EAN. Writes run through `writes`: a
 * few of an account's at a time, and a product a running job holds is 503, not a long wait. Lists
 * and searches run through `lists`, a few of an account's at a time as well.
 */
export function productRoutes(app: FastifyInstance, deps: { db: Db; writes: ProductWrites; lists: AccountPlaces }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const read = { scope: 'products:read' as const };
  const write = { scope: 'products:write' as const };
  const findProduct = productFinder(deps.db);
  /** One product of the account; matched exactly as sent: no check-digit validation on lookup. */
  const lookupProduct: Lookup<ProductResource> = async (request, accountId) => {
    const product = await findProduct(accountId, (request.params as { ean: string }).ean);
    if (!product) throw productNotFound();
    return product;
  };
  // A body of another media type is refused by json-body.ts, as on every route with a JSON body.
  // Its attributes' numbers are kept as written: json-body.ts notes those JSON.parse changed.
  const jsonBody = { config: { ...write, exactNumbersUnder: 'attributes' }, preValidation: boundAttributes };

  routes.get(
    '/v1/products',
    {
      config: read,
      schema: {
        operationId: 'listProducts',
        summary: 'List the catalog in EAN order (cursor-paginated)',
        querystring: listQuery,
        response: { 200: pageSchema(productResourceSchema), ...errorResponses(400, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const { brand, category, updated_since, q, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isEanPosition) : undefined;
      const accountId = accountIdOf(request);
      const query = { brand, category, updatedSince: updated_since, nameContains: q, afterEan: after?.[0], limit };
      // A few of the account's lists at a time; one whose client left is cancelled in PostgreSQL.
      const page = await deps.lists.run(accountId, () => listProducts(deps.db, accountId, query, request.signal), request.signal);
      return boundedPageOf(page, (row) => [row.ean], (row) => row);
    },
  );

  routes.get(
    '/v1/products/:ean',
    {
      config: { ...read, prefetch: lookupProduct },
      schema: {
        operationId: 'getProduct',
        summary: 'One product by EAN',
        params: eanParams,
        response: { 200: productResourceSchema, ...errorResponses(...AUTH_ERRORS), ...PRODUCT_NOT_FOUND },
      },
    },
    async (request) => prefetched(request, lookupProduct, accountIdOf(request)),
  );

  routes.post(
    '/v1/products',
    {
      ...jsonBody,
      attachValidation: true,
      schema: {
        operationId: 'createProduct',
        summary: 'Create a product',
        body: productCreateBodySchema,
        response: { 201: createdProductSchema, ...errorResponses(400, 415, 422, ...AUTH_ERRORS), ...errorCodes(409, 'DUPLICATE_EAN') },
      },
    },
    async (request, reply) => {
      throwIfAny(productBodyProblems(request));
      const accountId = accountIdOf(request);
      const product = await deps.writes.run(accountId, () => insertProduct(deps.db, accountId, request.body));
      if (!product) throw duplicateEan();
      return reply.code(201).header('location', productLocation(product.ean)).send(product);
    },
  );

  routes.put(
    '/v1/products/:ean',
    {
      ...jsonBody,
      attachValidation: true,
      schema: {
        operationId: 'replaceProduct',
        summary: 'Create or replace a product (fields left out are cleared)',
        params: eanParams,
        body: productReplaceBodySchema,
        response: { 200: productResourceSchema, 201: createdProductSchema, ...errorResponses(400, 415, 422, ...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const { ean } = request.params;
      const problems = [...eanMismatch(request.body, ean), ...productBodyProblems(request)];
      const pathEan = eanSchema.safeParse(ean);
      if (!pathEan.success && !problems.some((problem) => problem.field === 'ean')) {
        problems.unshift({ field: 'ean', message: pathEan.error.issues[0]!.message });
      }
      throwIfAny(problems);
      const input: ProductInput = { ...request.body, ean };
      const accountId = accountIdOf(request);
      const { product, created } = await deps.writes.run(accountId, () => replaceProduct(deps.db, accountId, input));
      if (created) reply.header('location', productLocation(product.ean));
      return reply.code(created ? 201 : 200).send(product);
    },
  );

  routes.patch(
    '/v1/products/:ean',
    {
      ...jsonBody,
      attachValidation: true,
      schema: {
        operationId: 'updateProduct',
        summary: 'Change some fields of a product',
        params: eanParams,
        body: productPatchBodySchema,
        response: { 200: productResourceSchema, ...errorResponses(400, 415, 422, ...AUTH_ERRORS), ...PRODUCT_NOT_FOUND },
      },
    },
    async (request) => {
      const { ean } = request.params;
      throwIfAny([...eanMismatch(request.body, ean), ...productBodyProblems(request)]);
      if (!storable(ean)) throw productNotFound();
      const accountId = accountIdOf(request);
      const outcome = await deps.writes.run(accountId, () => patchProduct(deps.db, accountId, ean, request.body));
      if (outcome.kind === 'not_found') throw productNotFound();
      if (outcome.kind === 'price_without_currency') {
        throw validationError([{ field: 'currency', message: CURRENCY_REQUIRED_MESSAGE }], 422);
      }
      if (outcome.kind === 'too_many_attributes') throw validationError([{ field: 'attributes', message: ATTRIBUTE_COUNT_MESSAGE }], 422);
      return outcome.product;
    },
  );

  routes.delete(
    '/v1/products/:ean',
    {
      config: write,
      schema: {
        operationId: 'deleteProduct',
        summary: 'Delete a product',
        params: eanParams,
        response: { 204: z.undefined().meta({ description: 'Deleted' }), ...errorResponses(...AUTH_ERRORS), ...PRODUCT_NOT_FOUND },
      },
    },
    async (request, reply) => {
      const { ean } = request.params;
      const accountId = accountIdOf(request);
      if (!storable(ean) || !(await deps.writes.run(accountId, () => deleteProduct(deps.db, accountId, ean)))) throw productNotFound();
      return reply.code(204).send();
    },
  );
}
