import type { Db } from '../../shared/db/pool.js';
import type { EnrichmentOptions } from '../../shared/jobs/enrichment-options.js';
import { hasGtinShape } from '../../shared/product/gtin.js';
import { findProductsByEan, type Checkpoint, type StoredProduct, type TakeTargets } from './enrich-queries.js';
import { pageTakenTargets, takeCatalogTargets } from './target-queries.js';

/** One product of the job, in job order: `row` is its 1-based place; `product` null when the catalog has no such EAN. */
export interface TargetEntry {
  row: number;
  ean: string;
  product: StoredProduct | null;
}

/** The products an enrichment covers, page by page from a checkpoint. */
export interface EnrichmentTargets {
  /** Takes the job's products after the checkpoint `from` (a new one: all of them), in its transaction; returns how many. */
  take: TakeTargets;
  nextPage(checkpoint: Checkpoint, limit: number): Promise<TargetEntry[]>;
}

/**
 * The page's EANs with their products as they are now (null: no longer, or never, in the
 * catalog); only the EANs that `findable` accepts are looked for.
 */
async function withProducts(
  db: Db,
  accountId: string,
  page: Array<{ row: number; ean: string }>,
  findable: (ean: string) => boolean = () => true,
): Promise<TargetEntry[]> {
  const found = await findProductsByEan(db, accountId, page.map(({ ean }) => ean).filter(findable));
  const byEan = new Map(found.map((product) => [product.ean, product]));
  return page.map(({ row, ean }) => ({ row, ean, product: byEan.get(ean) ?? null }));
}

/**
 * The job's products: the listed EANs in request order (each once), or else the catalog (filtered)
 * in EAN order as it was when the first attempt started. A product deleted since is still the
 * job's, with no product: it is reported as a listed EAN the catalog lacks is.
 */
export function enrichmentTargets(db: Db, accountId: string, jobId: string, options: EnrichmentOptions): EnrichmentTargets {
  if (options.eans) {
    const eans = [...new Set(options.eans)];
    return {
      take: async (_client, from) => eans.length - from.position,
      async nextPage(checkpoint, limit) {
        const slice = eans.slice(checkpoint.position, checkpoint.position + limit);
        const page = slice.map((ean, index) => ({ row: checkpoint.position + index + 1, ean }));
        return withProducts(db, accountId, page, hasGtinShape);
      },
    };
  }
  return {
    // A new job's products are the catalog as the take's statement sees it, with no `created_at`
    // bound: checking one reads every product's row, where a whole catalog is otherwise read from
    // the products' key alone.
    take: (client, from, isNew) =>
      takeCatalogTargets(client, jobId, accountId, options.filter, {
        position: from.position,
        afterEan: from.last_ean,
        snapshotAt: isNew ? null : from.snapshot_at,
      }),
    async nextPage(checkpoint, limit) {
      const page = await pageTakenTargets(db, jobId, checkpoint.position, limit);
      return withProducts(db, accountId, page.map(({ ordinal, ean }) => ({ row: ordinal, ean })));
    },
  };
}
