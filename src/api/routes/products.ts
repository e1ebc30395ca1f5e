import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../shared/db/pool.js';
import { notFound } from '../../shared/errors.js';
import { findProduct } from '../../shared/product/product-queries.js';
import { accountIdOf } from '../plugins/auth.js';

/** Product routes of API.md §3 (the lookup; the rest of the resource comes with the products API). */
export function productRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/products/:ean',
    { config: { scope: 'products:read' }, schema: { params: z.object({ ean: z.string() }) } },
    async (request) => {
      // Matched exactly as sent: no check-digit validation on lookup.
      const product = await findProduct(deps.db, accountIdOf(request), request.params.ean);
      if (!product) throw notFound('Product not found');
      return product;
    },
  );
}
