import type { Db } from '../../shared/db/pool.js';
import type { EnrichmentOptions } from '../../shared/jobs/enrichment-options.js';
import { hasGtinShape } from '../../shared/product/gtin.js';
import {
  countCatalogTargets,
  findProductsByEan,
  pageCatalogTargets,
  type Checkpoint,
  type StoredProduct,
} from './enrich-queries.js';

/** One product of the job, in job order: `row` is its 1-based place; `product` null when the catalog has no such EAN. */
export interface TargetEntry {
  row: number;
  ean: string;
  product: StoredProduct | null;
}

/** The products an enrichment covers, page by page from a checkpoint. */
export interface EnrichmentTargets {
  count(snapshotAt: Date): Promise<number>;
  nextPage(checkpoint: Checkpoint, limit: number): Promise<TargetEntry[]>;
}

/**
 * The job's products: the listed EANs in request order (each once), or else the catalog (filtered)
 * in EAN order as it was when the first attempt started.
 */
export function enrichmentTargets(db: Db, accountId: string, options: EnrichmentOptions): EnrichmentTargets {
  if (options.eans) {
    const eans = [...new Set(options.eans)];
    return {
      count: async () => eans.length,
      async nextPage(checkpoint, limit) {
        const slice = eans.slice(checkpoint.position, checkpoint.position + limit);
        const found = await findProductsByEan(db, accountId, slice.filter(hasGtinShape));
        const byEan = new Map(found.map((product) => [product.ean, product]));
        return slice.map((ean, index) => ({ row: checkpoint.position + index + 1, ean, product: byEan.get(ean) ?? null }));
      },
    };
  }
  return {
    count: (snapshotAt) => countCatalogTargets(db, accountId, snapshotAt, options.filter),
    async nextPage(checkpoint, limit) {
      const products = await pageCatalogTargets(db, accountId, checkpoint.snapshot_at, options.filter, checkpoint.last_ean, limit);
      return products.map((product, index) => ({ row: checkpoint.position + index + 1, ean: product.ean, product }));
    },
  };
}
