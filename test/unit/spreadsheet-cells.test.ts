import { describe, expect, it } from 'vitest';
import { commaPrice, eanCellOf, isPointNumber, markPointNumber, spreadsheetEanMessage } from '../../src/workers/import/spreadsheet-cells.js';

describe('spreadsheet cells', () => {
  it("removes Excel's leading ' text marker from an EAN, and only one", () => {
    expect(eanCellOf(" '4006381333931 ")).toBe('4006381333931');
    expect(eanCellOf("''4006381333931")).toBe("'4006381333931");
    expect(eanCellOf("'")).toBeNull();
    expect(eanCellOf('  ')).toBeNull();
  });

  it('reads the digits of an EAN written in Excel\'s ="digits" notation, and no other formula', () => {
    expect(eanCellOf('="0614141000036"')).toBe('0614141000036');
    expect(eanCellOf(' ="00012345600012" ')).toBe('00012345600012');
    expect(eanCellOf('="ABC"')).toBe('="ABC"');
    // As errors.csv and rows.csv write such a cell back, behind the text marker.
    expect(eanCellOf('\'="4006381333931"')).toBe('4006381333931');
    expect(eanCellOf('=A1')).toBe('=A1');
    expect(eanCellOf('="061414" & "1000036"')).toBe('="061414" & "1000036"');
  });

  it.each(['4.00638E+12', '4,00638E+12', '4.00638e12', '40063813E+5'])('explains %s as scientific notation', (ean) => {
    expect(spreadsheetEanMessage(ean)).toMatch(/scientific notation: Excel shortened the number/);
  });

  it('names the padded EAN of 7 and 11 digits only when padding gives a valid check digit', () => {
    expect(spreadsheetEanMessage('1234565')).toContain("'01234565'");
    expect(spreadsheetEanMessage('12000161155')).toContain("'012000161155'");
    expect(spreadsheetEanMessage('1234566')).toBeNull();
    expect(spreadsheetEanMessage('123456')).toBeNull();
    expect(spreadsheetEanMessage('abc')).toBeNull();
  });

  it('reads decimal commas and refuses thousands separators', () => {
    expect(commaPrice('1,50')).toEqual({ ok: true, value: '1.50' });
    expect(commaPrice('12')).toEqual({ ok: true, value: '12' });
    for (const cell of ['1.234,50', '1.234', '1,234,50', "1'234,50", '1.50.25']) {
      expect(commaPrice(cell)).toMatchObject({ ok: false, message: expect.stringContaining('thousands separator') });
    }
    expect(commaPrice('1.5')).toEqual({
      ok: false,
      message: `The price '1.5' has a decimal point, which is not read with decimal_separator=",": write it with a decimal comma, such as "1,5".`,
    });
    for (const cell of ['1.50', '19.9999']) expect(commaPrice(cell)).toMatchObject({ ok: false, message: expect.stringContaining('has a decimal point') });
    for (const cell of ['abc', '1,', ',5', '0,00001']) {
      expect(commaPrice(cell)).toEqual({ ok: false, message: 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9,99".' });
    }
  });

  it("reads a workbook's numeric cell (1.50) beside decimal commas, still refusing thousands separators", () => {
    expect(commaPrice('1.50', true)).toEqual({ ok: true, value: '1.50' });
    expect(commaPrice('2,50', true)).toEqual({ ok: true, value: '2.50' });
    for (const cell of ['1.234,50', '1.234.567', '1,234.50']) {
      expect(commaPrice(cell, true)).toMatchObject({ ok: false, message: expect.stringContaining('thousands separator') });
    }
  });

  it('tells the cells a workbook reader marked as numbers with a point, the record still a plain list of cells', () => {
    const record = ['4006381333931', '1.5', '2.5', '1.234'];
    markPointNumber(record, 1);
    markPointNumber(record, 2);
    expect([0, 1, 2, 3, undefined].map((column) => isPointNumber(record, column))).toEqual([false, true, true, false, false]);
    expect(record).toEqual(['4006381333931', '1.5', '2.5', '1.234']);
    expect(isPointNumber(['1.5'], 0)).toBe(false);
  });
});
