import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';

/** Cells typed as a spreadsheet types them: EAN, price and stock as numbers; the rest as text. */
const NUMERIC_COLUMNS = new Set(['ean', 'price', 'stock']);

/**
 * Writes the products of `csvPath` as an .xlsx workbook at `xlsxPath`, the way Excel saves one:
 * numbers as numbers (prices with a `0.00` format), text in the shared-strings part written after
 * the sheet. Streams both files (exceljs's WorkbookWriter); returns the workbook's size in bytes.
 */
export async function convertCsvToXlsx(csvPath: string, xlsxPath: string): Promise<number> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: xlsxPath, useSharedStrings: true, useStyles: true });
  const sheet = workbook.addWorksheet('Products');
  let numeric: boolean[] = [];
  let priceColumn = -1;
  for await (const record of createReadStream(csvPath).pipe(parse()) as AsyncIterable<string[]>) {
    if (numeric.length === 0) {
      numeric = record.map((name) => NUMERIC_COLUMNS.has(name));
      priceColumn = record.indexOf('price');
      sheet.addRow(record).commit();
      continue;
    }
    const row = sheet.addRow(record.map((cell, column) => (numeric[column] && cell !== '' ? Number(cell) : cell)));
    if (priceColumn !== -1) row.getCell(priceColumn + 1).numFmt = '0.00';
    row.commit();
  }
  sheet.commit();
  await workbook.commit();
  return (await stat(xlsxPath)).size;
}
