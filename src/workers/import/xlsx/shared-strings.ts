/** Bytes of one page of the store; a longer string gets a page of its own. */
const PAGE_BYTES = 4 << 20;
/** Flag in `pageOf` of a string too large for any row; the other bits are the page. */
const TOO_LARGE = 0x8000;

/**
 * The workbook's shared strings, kept as UTF-8 in large buffers outside the JavaScript heap: a
 * sheet of a million rows can share a hundred megabytes of distinct names and descriptions, more
 * than the worker's heap is given, while the buffers cost their bytes and six more per string.
 */
export class SharedStrings {
  private readonly pages: Buffer[] = [];
  private pageUsed = 0;
  /** Page of each string; a string starts where the one before it ends, or at 0 on a new page. */
  private pageOf = new Uint16Array(1024);
  private endOf = new Uint32Array(1024);
  size = 0;

  /** Appends the next string (index `size`). */
  add(text: string): void {
    const bytes = Buffer.byteLength(text);
    let page = this.pages.at(-1);
    if (!page || this.pageUsed + bytes > page.length) {
      page = Buffer.allocUnsafeSlow(Math.max(PAGE_BYTES, bytes));
      this.pages.push(page);
      this.pageUsed = 0;
    }
    this.pageUsed += page.write(text, this.pageUsed);
    if (this.size === this.endOf.length) this.grow();
    this.pageOf[this.size] = this.pages.length - 1;
    this.endOf[this.size] = this.pageUsed;
    this.size += 1;
  }

  /**
   * Appends a string longer than any row may be (IMPORT_MAX_RECORD_BYTES) without its text: the
   * workbook may not use it, and a row that does fails at that row.
   */
  addTooLarge(): void {
    this.add('');
    this.pageOf[this.size - 1]! |= TOO_LARGE;
  }

  /** The string at `index`; null for one {@link addTooLarge} kept; undefined when the workbook has no such string. */
  get(index: number): string | null | undefined {
    if (!(Number.isInteger(index) && index >= 0 && index < this.size)) return undefined;
    if (this.pageOf[index]! & TOO_LARGE) return null;
    const page = this.pageOf[index]!;
    const start = index > 0 && (this.pageOf[index - 1]! & ~TOO_LARGE) === page ? this.endOf[index - 1]! : 0;
    return this.pages[page]!.toString('utf8', start, this.endOf[index]);
  }

  private grow(): void {
    const pageOf = new Uint16Array(this.pageOf.length * 2);
    pageOf.set(this.pageOf);
    this.pageOf = pageOf;
    const endOf = new Uint32Array(this.endOf.length * 2);
    endOf.set(this.endOf);
    this.endOf = endOf;
  }
}
