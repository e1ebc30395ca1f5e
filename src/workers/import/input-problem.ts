import type { CsvSource } from './csv-source.js';
import { FileProblem } from './file-problem.js';
import type { InputProblem } from './input-guard.js';

/**
 * The file-level problem of bytes the input guard refused, reported at `row`, with what to do
 * about it: an .xls workbook is named as one, invalid UTF-8 names line, column, cell and byte.
 */
export function inputGuardProblem(
  problem: InputProblem,
  at: { row: number; source: CsvSource; header: string[] | null },
): FileProblem {
  const { row, source } = at;
  // A zip archive never gets here: it is read as an .xlsx workbook (read-file.ts).
  if (source.workbook === 'xls') {
    return new FileProblem(
      'BINARY_CONTENT',
      "The file is an Excel 97-2003 workbook (.xls), not CSV text: save it from Excel as .xlsx or as 'CSV UTF-8' and send that.",
      row,
    );
  }
  const { kind, line, column, byte } = problem;
  if (kind === 'binary') {
    return new FileProblem('BINARY_CONTENT', `The file looks binary, not CSV text: a NUL byte on line ${line} (row ${row}).`, row);
  }
  const cell = cellName(problem, source.delimiter, at.header);
  const hex = `0x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return new FileProblem(
    'INVALID_UTF8',
    `The file is not valid UTF-8: byte ${hex} on line ${line}, column ${column} (row ${row}${cell}). ` +
      "Save the file as UTF-8 (in Excel: 'CSV UTF-8'), or send encoding=windows-1252 if it was saved by Excel on Windows.",
    row,
  );
}

/** ", in column 'name'": the header of the cell holding the bad byte, when the line tells it. */
function cellName(problem: InputProblem, delimiter: string, header: string[] | null): string {
  let index = 0;
  let quoted = false;
  for (const char of problem.before) {
    if (char === '"') quoted = !quoted;
    else if (char === delimiter && !quoted) index += 1;
  }
  const name = header?.[index]?.trim();
  return name ? `, in column '${name}'` : '';
}
