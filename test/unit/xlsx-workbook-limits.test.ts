import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readWorkbookParts } from '../../src/workers/import/xlsx/workbook-parts.js';
import { WORKBOOK_LIMITS } from '../../src/workers/import/xlsx/workbook-limits.js';
import { InflateBudget } from '../../src/workers/import/xlsx/zip-entries.js';
import { handWrittenWorkbook, zipOf, type ZipPart } from '../support/xlsx.js';

// Each list the first pass over a workbook keeps is bounded (API.md: INVALID_XLSX at row 0):
// distinct relationships, number formats or shared strings by the million would fill the heap.

const LIMITS = { ...WORKBOOK_LIMITS, relationships: 8, numberFormats: 8, sharedStrings: 8, nameChars: 40 };
const sheet = { name: 'Products', rows: '<row><c t="inlineStr"><is><t>ean</t></is></c></row>' };

const withInPart = (parts: ZipPart[], path: string, before: string, xml: string) =>
  parts.map((part) => (part.path === path ? { ...part, content: part.content.toString().replace(before, `${xml}${before}`) } : part));

const read = (parts: ZipPart[]) => readWorkbookParts(Readable.from([zipOf(parts)]), new InflateBudget(1 << 30), 1 << 20, undefined, LIMITS);
const invalid = (detail: string) => ({ code: 'INVALID_XLSX', row: 0, message: `The file is not a readable .xlsx workbook (${detail}).` });
const many = (count: number, element: (i: number) => string) => Array.from({ length: count }, (_, i) => element(i)).join('');

describe('the lists of a workbook read before its sheet', () => {
  it('reads a workbook at every limit', async () => {
    const book = handWrittenWorkbook({ sheets: [sheet], sharedStrings: Array.from({ length: 8 }, (_, i) => `<si><t>${i}</t></si>`), styles: `<numFmts>${many(8, (i) => `<numFmt numFmtId="${164 + i}" formatCode="0.00"/>`)}</numFmts>` });
    const parts = await read(withInPart(book, 'xl/_rels/workbook.xml.rels', '</Relationships>', many(7, (i) => `<Relationship Id="x${i}" Target="x${i}.xml"/>`)));
    expect(parts.sharedStrings.size).toBe(8);
    expect(parts.sheets).toEqual([{ name: 'Products', hidden: false, path: 'xl/worksheets/sheet1.xml', kind: 'worksheet' }]);
  });

  it.each([
    ['relationships', withInPart(handWrittenWorkbook({ sheets: [sheet] }), 'xl/_rels/workbook.xml.rels', '</Relationships>', many(8, (i) => `<Relationship Id="x${i}" Target="x${i}.xml"/>`)),
      'xl/_rels/workbook.xml.rels has more than 8 relationships, more than any spreadsheet program writes'],
    ['number formats', handWrittenWorkbook({ sheets: [sheet], styles: `<numFmts>${many(9, (i) => `<numFmt numFmtId="${164 + i}" formatCode="0.00"/>`)}</numFmts>` }),
      'xl/styles.xml has more than 8 number formats, more than any spreadsheet program writes'],
    ['shared strings', handWrittenWorkbook({ sheets: [sheet], sharedStrings: Array.from({ length: 9 }, () => '<si/>') }),
      'xl/sharedStrings.xml has more than 8 shared strings, more than any spreadsheet program writes'],
    ['characters in a sheet name', handWrittenWorkbook({ sheets: [{ ...sheet, name: 'n'.repeat(41) }] }),
      "xl/workbook.xml has more than 40 characters in a sheet's name, more than any spreadsheet program writes"],
  ])('fails a workbook with more %s than the limit', async (_label, parts, detail) => {
    await expect(read(parts)).rejects.toMatchObject(invalid(detail));
  });
});
