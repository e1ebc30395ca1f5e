import { describe, expect, it } from 'vitest';
import { blankRecordTest } from '../../src/workers/import/blank-record.js';

describe('blankRecordTest', () => {
  const report = blankRecordTest(['ean', 'name', 'error_row', 'error_field', 'error_code', 'error_message']);

  it("skips a report's line of the header's problem: error_row 0, nothing outside the error columns", () => {
    expect(report(['', ' ', '0', '', 'MISSING_COLUMN', "The header is missing the required column 'name'."])).toBe(true);
    expect(report(['', '', '', '', '', ''])).toBe(true);
  });

  it('keeps a line with a cell of its own, and a line of a later row that has no cells (where a read stopped)', () => {
    expect(report(['4006381333931', '', '0', '', 'MISSING_COLUMN', 'x'])).toBe(false);
    expect(report(['', '', '3', '', 'UNTERMINATED_QUOTE', 'Unterminated quoted field.'])).toBe(false);
  });

  it('reads error columns by name whatever their case, and treats a file without them as before', () => {
    expect(blankRecordTest(['EAN', ' Error_Row ', 'ERROR_CODE'])(['', '0', 'NO_HEADER'])).toBe(true);
    const plain = blankRecordTest(['ean', 'name', 'note']);
    expect(plain([' ', '', '\t'])).toBe(true);
    expect(plain(['', '', '0'])).toBe(false);
  });
});
