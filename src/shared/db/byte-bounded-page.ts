/**
 * The most bytes of row text one page of a list holds: a page stops before the row that would take
 * its rows' JSON past this, whatever `limit` allows, and answers `next_cursor` there. A product may
 * be about 1 MB (IMPORT_MAX_RECORD_BYTES), an enrichment's `options` a list of 50,000 EANs, so 500
 * such rows read, parsed and serialized at once would exhaust the API's heap and hold its event
 * loop for seconds. The first row of a page is always given, so paging always moves on.
 */
export const PAGE_BYTE_BUDGET = 4 * 1024 * 1024;

/** A row of {@link byteBoundedPage}: its columns, and whether a row of the statement follows it. */
export type BoundedRow<Row> = Row & { page_more: boolean };

/**
 * `statement` (a page's rows, at most `fetched` of them, which is one more than the page's
 * `limit`, sorted by `order`) kept while the running total of its rows' size stays within
 * {@link PAGE_BYTE_BUDGET} (the first row always), and at most `fetched - 1` rows. The size of a
 * row is the octet length of its JSON text as PostgreSQL renders it (not `pg_column_size`, the
 * stored, possibly compressed size), computed in PostgreSQL, so rows past the budget never leave
 * it. Each row comes with `page_more`: whether a row of the statement follows it; on the last row
 * it tells whether another page follows ({@link boundedRows}). `statement`, `names` and `order`
 * are the caller's constants; `fetched` is a parameter's placeholder (`$4`).
 */
export function byteBoundedPage(statement: string, names: readonly string[], order: string, fetched: string): string {
  return `SELECT ${names.map((name) => `sized.${name}`).join(', ')}, sized.page_more FROM (
      SELECT page.*, row_number() OVER page_order AS page_row, lead(true, 1, false) OVER page_order AS page_more,
        sum(octet_length(row_to_json(page)::text)) OVER (page_order ROWS UNBOUNDED PRECEDING) AS page_bytes
      FROM (${statement}) page
      WINDOW page_order AS (ORDER BY ${order})
    ) sized
    WHERE sized.page_row < ${fetched} AND (sized.page_row = 1 OR sized.page_bytes <= ${PAGE_BYTE_BUDGET})
    ORDER BY sized.page_row`;
}

/** The rows of a {@link byteBoundedPage}, and whether another page follows them. */
export interface BoundedRows<Row> {
  rows: Row[];
  more: boolean;
}

/** The rows of a {@link byteBoundedPage} without their `page_more`, which the last one gives as `more`. */
export function boundedRows<Row>(rows: BoundedRow<Row>[]): BoundedRows<Row> {
  return {
    rows: rows.map(({ page_more: _more, ...row }) => row as Row),
    more: rows.at(-1)?.page_more ?? false,
  };
}
