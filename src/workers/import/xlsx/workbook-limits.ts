import { FileProblem } from '../file-problem.js';

/**
 * How many of each list the first pass over a workbook keeps (see readWorkbookParts), far above
 * what Excel writes: a few hundred kilobytes of deflated XML can repeat one element by the
 * million, and each kept entry costs heap. Past a bound the workbook is not one to import.
 */
export interface WorkbookLimits {
  /** `<sheet>`s of `xl/workbook.xml` (Excel: as many as memory allows; a workbook of 4,096 tabs is not usable). */
  sheets: number;
  /** `<Relationship>`s of `xl/_rels/workbook.xml.rels`: a sheet each, and the workbook's other parts. */
  relationships: number;
  /** `<xf>`s of `<cellXfs>` in `xl/styles.xml` (Excel: 65,490 cell formats). */
  cellFormats: number;
  /** `<numFmt>`s of `xl/styles.xml` (Excel: 200 to 250 custom number formats). */
  numberFormats: number;
  /** `<si>`s of `xl/sharedStrings.xml`: every text cell of a full 1M-row sheet of 16 text columns. */
  sharedStrings: number;
  /** Characters of a sheet's name (Excel: 31) or a relationship's Id or Target kept for each. */
  nameChars: number;
}

export const WORKBOOK_LIMITS: WorkbookLimits = {
  sheets: 4_096,
  relationships: 16_384,
  cellFormats: 65_536,
  numberFormats: 65_536,
  sharedStrings: 1 << 24,
  nameChars: 1_024,
};

/** The import's failure for a workbook past one of the {@link WorkbookLimits}. */
export function pastLimit(what: string, part: string, limit: number): FileProblem {
  return new FileProblem(
    'INVALID_XLSX',
    `The file is not a readable .xlsx workbook (${part} has more than ${limit.toLocaleString('en-US')} ${what}, more than any spreadsheet program writes).`,
    0,
  );
}
