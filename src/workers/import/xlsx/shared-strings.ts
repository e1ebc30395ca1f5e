/** Bytes of one page of the store; a longer string gets a page of its own. */
const PAGE_BYTES = 4 << 20;

/**
 * The workbook's shared strings, kept as UTF-8 in large buffers outside the JavaScript heap: a
 * sheet of a million rows can share a hundred megabytes of distinct names and descriptions, more
 * than the worker's heap is given, while the buffers cost their bytes and nothing per string.
 */
export class SharedStrings {
  private readonly pages: Buffer[] = [];
  private page = Buffer.allocUnsafeSlow(0);
  private pageUsed = 0;
  private pageOf = new Uint32Array(1024);
  private startOf = new Uint32Array(1024);
  private endOf = new Uint32Array(1024);
  size = 0;

  /** Appends the next string (index `size`). */
  add(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.pages.length === 0 || this.pageUsed + bytes > this.page.length) this.newPage(bytes);
    const start = this.pageUsed;
    this.pageUsed += this.page.write(text, start);
    if (this.size === this.pageOf.length) this.grow();
    this.pageOf[this.size] = this.pages.length - 1;
    this.startOf[this.size] = start;
    this.endOf[this.size] = this.pageUsed;
    this.size += 1;
  }

  /** The string at `index`, or undefined when the workbook has no such string. */
  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.size)) return undefined;
    return this.pages[this.pageOf[index]!]!.toString('utf8', this.startOf[index], this.endOf[index]);
  }

  private newPage(bytes: number): void {
    this.page = Buffer.allocUnsafeSlow(Math.max(PAGE_BYTES, bytes));
    this.pageUsed = 0;
    this.pages.push(this.page);
  }

  private grow(): void {
    const widen = (array: Uint32Array) => {
      const wider = new Uint32Array(array.length * 2);
      wider.set(array);
      return wider;
    };
    this.pageOf = widen(this.pageOf);
    this.startOf = widen(this.startOf);
    this.endOf = widen(this.endOf);
  }
}
