import type { DbClient } from '../../shared/db/pool.js';
import { PRODUCT_COPY_COLUMNS, REPEAT_COLUMNS } from './chunk-sql.js';
import { copyLine, copyText } from './copy-writer.js';
import { EanFilter } from './ean-filter.js';
import type { Candidate, DirectRows } from './import-chunk.js';
import { eanKey } from './seen-eans.js';
import { SeenLog } from './seen-log.js';

/** Puts row `row` in the report as a repeat of row `firstRow` (counting is the caller's). */
export type ReportRepeat = (row: number | string, ean: string, firstRow: number | string, raw: string) => Promise<void>;

/** What settling a chunk's held-back rows did. */
export interface Settled {
  /** Rows written to products. */
  created: number;
  /** Rows taken out as repeats (reported now, or once the file is read). */
  rejected: number;
}

/**
 * Catches repeated EANs in a first load (see isFirstLoad: every product of the account is one of
 * this file's rows) without an index of its own: a
 * fixed-size filter of the file's EANs in the worker, and products' unique index, which the COPY
 * keeps up anyway. A row whose EAN the filter may have seen is held back with its chunk and
 * checked against products once the chunk is in. The first row of such a repeat comes from the
 * seen log (EAN and row of every row written, see SeenLog) in one pass once the file is read.
 * While the file's EANs ascend (a catalog sorted by EAN), each is above all before it and skips
 * the filter: a filter of a large file misses the processor's cache on nearly every EAN.
 */
export class FirstLoadRepeats {
  private readonly filter: EanFilter;
  private readonly log: SeenLog;
  /** Repeats whose first row is looked up at the end, in import_repeats. */
  private pending = 0;
  /**
   * Whether every EAN so far was greater than all before it (a file sorted by EAN): such an EAN
   * cannot have been seen, and skips the filter. The filter is caught up with the logged EANs at
   * the first EAN out of order, or when the log moves to the database before that.
   */
  private ascending = true;
  /** The greatest EAN key so far, while {@link ascending}. */
  private highest = -1;

  constructor(
    private readonly tx: DbClient,
    private readonly accountId: string,
    sizes: { filterBytes: number; logMaxEntries?: number },
    private readonly reportRepeat: ReportRepeat,
  ) {
    this.filter = new EanFilter(sizes.filterBytes);
    this.log = new SeenLog(sizes.logMaxEntries);
  }

  /**
   * Adds row `row` with `ean` to the filter. True when its EAN may have been seen before: hold the
   * row back. Otherwise it is new, and logged as written.
   */
  maybeSeen(ean: string, row: number): boolean {
    const key = eanKey(ean);
    if (this.ascending) {
      if (key > this.highest) {
        this.highest = key;
        this.log.add(key, row);
        return false;
      }
      this.ascending = false;
      this.filterLogged();
    }
    if (this.filter.add(key)) return true;
    this.log.add(key, row);
    return false;
  }

  /**
   * Settles the rows a direct chunk held back (its own rows are in products already), and moves
   * the seen log to the database if it is past its memory budget.
   */
  async settle(direct: DirectRows): Promise<Settled> {
    if (this.log.full) {
      // The flush moves every EAN logged so far out of memory: the filter must have them first.
      if (this.ascending) this.filterLogged();
      await this.log.flush(this.tx);
    }
    return direct.candidates.length > 0 ? this.checkCandidates(direct.candidates) : { created: 0, rejected: 0 };
  }

  /** Adds the EANs in the log to the filter (an EAN added twice changes nothing). */
  private filterLogged(): void {
    this.log.forEachKey((key) => this.filter.add(key));
  }

  /** Lets go of the seen log: the attempt has ended. */
  release(): void {
    this.log.clear();
  }

  /**
   * Reports the repeats found by the checks, each with the first row of its EAN from the seen log:
   * the log is written to import_seen_log, then read in one pass, through a cursor. An EAN with no
   * first row in the log was committed by another import during this one; the attempt then fails,
   * to be retried against a catalog that is no longer empty.
   */
  async reportPending(): Promise<void> {
    if (this.pending === 0) return;
    const { tx } = this;
    await this.log.flush(tx);
    await tx.query(`
      DECLARE import_pending_repeats NO SCROLL CURSOR FOR
      SELECT r.row::text, r.ean, r.raw, f.first::text
      FROM import_repeats r
      LEFT JOIN (SELECT ean, min(row) AS first FROM import_seen_log
                 WHERE ean IN (SELECT ean FROM import_repeats) GROUP BY ean) f ON f.ean = r.ean
      ORDER BY r.row`);
    for (;;) {
      const { rows } = await tx.query<{ row: string; ean: string; raw: string; first: string | null }>(
        'FETCH 5000 FROM import_pending_repeats',
      );
      if (rows.length === 0) break;
      for (const { row, ean, raw, first } of rows) {
        if (first === null) throw new Error(`EAN ${ean} was stored by another import while this one ran; it will be retried`);
        await this.reportRepeat(row, ean, first, raw);
      }
    }
    await tx.query('CLOSE import_pending_repeats');
    this.pending = 0;
  }

  /**
   * An EAN products has is a repeat: its first row is looked up at the end. The others are new
   * (the filter said "maybe" of an EAN it had not seen), but for a repeat among themselves; they
   * are written like the chunk's other rows.
   */
  private async checkCandidates(candidates: Candidate[]): Promise<Settled> {
    const { tx } = this;
    const { rows } = await tx.query<{ ean: string }>(
      'SELECT ean FROM products WHERE account_id = $1 AND ean = ANY ($2::text[])',
      [this.accountId, [...new Set(candidates.map((candidate) => candidate.ean))]],
    );
    const stored = new Set(rows.map((row) => row.ean));
    const fresh = new Map<string, number>();
    const lines: string[] = [];
    const repeats: string[] = [];
    let rejected = 0;
    for (const { row, ean, line, cells } of candidates) {
      const first = fresh.get(ean);
      if (stored.has(ean)) repeats.push(copyLine([row, ean, JSON.stringify(cells)]));
      else if (first !== undefined) {
        rejected += 1;
        await this.reportRepeat(row, ean, first, JSON.stringify(cells));
      } else {
        fresh.set(ean, row);
        lines.push(line);
        this.log.add(eanKey(ean), row);
      }
    }
    if (lines.length > 0) await copyText(tx, 'products', PRODUCT_COPY_COLUMNS, lines.join(''));
    if (repeats.length > 0) {
      await copyText(tx, 'import_repeats', REPEAT_COLUMNS, repeats.join(''));
      this.pending += repeats.length;
    }
    return { created: lines.length, rejected: rejected + repeats.length };
  }
}
