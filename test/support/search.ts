import pg from 'pg';
import { productListStatement, type ProductListQuery } from '../../src/shared/product/list-products.js';
import type { TestContext } from './test-context.js';

/** A pool or a client: what EXPLAIN runs on. */
type Queryable = Pick<pg.ClientBase, 'query'>;

/** One node of a JSON plan, with what EXPLAIN ANALYZE says of it. */
export interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Loops'?: number;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/**
 * The nodes of the plan of the route's own statement for `query` that actually ran (EXPLAIN
 * ANALYZE): a branch that a one-time filter skipped is left out.
 */
export async function executedPlanNodes(ctx: TestContext, accountId: string, query: ProductListQuery): Promise<PlanNode[]> {
  const { text, values } = productListStatement(accountId, query);
  return executedStatementNodes(ctx.db, text, values);
}

/**
 * The nodes of the plan of any statement that actually ran (EXPLAIN ANALYZE, on `db`: a
 * statement that writes is run, so pass a client inside a transaction that is rolled back).
 */
export async function executedStatementNodes(db: Queryable, text: string, values: unknown[]): Promise<PlanNode[]> {
  const { rows } = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
  const nodes: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    if (node['Actual Loops'] === 0) return;
    nodes.push(node);
    node.Plans?.forEach(walk);
  };
  walk(rows[0]!['QUERY PLAN'][0]!.Plan);
  return nodes;
}

/** Whether the statement read product_search (the branch taken when the search is not behind). */
export const readsSearchTable = (nodes: PlanNode[]) => nodes.some((node) => node['Relation Name'] === 'product_search');

export const indexesUsed = (nodes: PlanNode[]) => nodes.flatMap((node) => (node['Index Name'] ? [node['Index Name']] : []));

/** Tables read whole by a sequential scan (the one-row-per-account backlog table aside). */
export const tablesScanned = (nodes: PlanNode[]) =>
  nodes.filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] !== 'product_search_backlog').map((node) => node['Relation Name']);

/** Whether the account's search is marked as behind its products. */
export async function hasSearchBacklog(ctx: TestContext, accountId: string): Promise<boolean> {
  const { rowCount } = await ctx.db.query('SELECT 1 FROM product_search_backlog WHERE account_id = $1', [accountId]);
  return rowCount === 1;
}

/** Waits until the account's search has caught up with its products. */
export async function untilSearchCaughtUp(ctx: TestContext, accountId: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await hasSearchBacklog(ctx, accountId)) {
    if (Date.now() > deadline) throw new Error(`product search of ${accountId} still behind after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Holds the account's search lock (shared, on a connection of its own) until the returned function
 * is called: a catch-up cannot write a batch meanwhile, so the account's backlog stays. No API
 * write of the account may be sent while it is held (it would queue behind the waiting catch-up).
 */
export async function holdSearchCatchUp(ctx: TestContext, accountId: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: ctx.config.DATABASE_URL });
  await client.connect();
  await client.query(`SELECT pg_advisory_lock_shared(hashtextextended('product_search:' || $1, 0))`, [accountId]);
  return async () => {
    await client.end();
  };
}
