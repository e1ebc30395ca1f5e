import { describe, expect, it } from 'vitest';
import type { ImportMode } from '../../src/shared/jobs/import-options.js';
import { detectDelimiter, HeaderError, layoutFromHeader } from '../../src/workers/import/header.js';

/** The HeaderError thrown by layoutFromHeader, or a failure when none is thrown. */
function headerError(header: string[], mode: ImportMode = 'upsert'): HeaderError {
  try {
    layoutFromHeader(header, mode);
  } catch (error) {
    expect(error).toBeInstanceOf(HeaderError);
    return error as HeaderError;
  }
  throw new Error(`expected a HeaderError for ${JSON.stringify(header)}`);
}

describe('layoutFromHeader', () => {
  it('matches product column names case-insensitively after trimming', () => {
    const layout = layoutFromHeader(['  EAN ', 'Name', 'PRICE\t', ' Currency', 'image_URL', 'Stock'], 'upsert');
    expect(layout.product).toEqual({ ean: 0, name: 1, price: 2, currency: 3, image_url: 4, stock: 5 });
    expect(layout.attributes).toEqual([]);
  });

  it('puts unknown columns into attributes under their trimmed name, keeping its case', () => {
    const layout = layoutFromHeader(['ean', ' Color ', 'name', 'Weight (g)'], 'upsert');
    expect(layout.product).toEqual({ ean: 0, name: 2 });
    expect(layout.attributes).toEqual([
      { name: 'Color', index: 1 },
      { name: 'Weight (g)', index: 3 },
    ]);
  });

  it('keeps the header as uploaded for errors.csv', () => {
    const header = [' EAN', 'Name ', 'color'];
    expect(layoutFromHeader(header, 'upsert').header).toEqual([' EAN', 'Name ', 'color']);
  });

  it('ignores the report columns that errors.csv appends, in any case', () => {
    const layout = layoutFromHeader(
      ['ean', 'name', 'error_row', 'Error_Field', ' ERROR_CODE ', 'error_message'],
      'upsert',
    );
    expect(layout.product).toEqual({ ean: 0, name: 1 });
    expect(layout.attributes).toEqual([]);
  });

  it('ignores the columns of export fields an import cannot write (created_at, updated_at), in any case, even twice', () => {
    const layout = layoutFromHeader(['ean', ' Created_At ', 'name', 'UPDATED_AT', 'updated_at', 'color'], 'upsert');
    expect(layout.product).toEqual({ ean: 0, name: 2 });
    expect(layout.attributes).toEqual([{ name: 'color', index: 5 }]);
  });

  it('reads a header spelling the attribute attributes.updated_at as that attribute', () => {
    const layout = layoutFromHeader(['ean', 'name', 'updated_at', 'attributes.updated_at'], 'upsert');
    expect(layout.attributes).toEqual([{ name: 'updated_at', index: 3 }]);
  });

  it('ignores columns without a name', () => {
    const layout = layoutFromHeader(['ean', '', 'name', '   '], 'upsert');
    expect(layout.product).toEqual({ ean: 0, name: 2 });
    expect(layout.attributes).toEqual([]);
  });

  it('requires ean and name for upsert and create', () => {
    for (const mode of ['upsert', 'create'] as const) {
      const noName = headerError(['ean', 'brand'], mode);
      expect(noName.code).toBe('MISSING_COLUMN');
      expect(noName.message).toBe("The header is missing the required column 'name'.");
      const noEan = headerError(['name', 'brand'], mode);
      expect(noEan.code).toBe('MISSING_COLUMN');
      expect(noEan.message).toBe("The header is missing the required column 'ean'.");
    }
  });

  it('names both required columns when both are missing', () => {
    const error = headerError(['brand', 'category']);
    expect(error.message).toBe("The header is missing the required columns 'ean' and 'name'.");
  });

  it('requires only ean for update', () => {
    expect(layoutFromHeader(['ean', 'price'], 'update').product).toEqual({ ean: 0, price: 1 });
    const error = headerError(['name', 'price'], 'update');
    expect(error.code).toBe('MISSING_COLUMN');
    expect(error.message).toContain("'ean'");
    expect(error.message).not.toContain("'name'");
  });

  it('does not count a report column or an attribute as a required column', () => {
    expect(headerError(['error_row', 'name']).message).toContain("'ean'");
    expect(headerError(['ean', 'names']).message).toContain("'name'");
  });

  it('rejects a product column named twice, whatever the case and spacing', () => {
    const error = headerError(['ean', 'name', ' EAN']);
    expect(error.code).toBe('DUPLICATE_COLUMN');
    expect(error.message).toBe("The header names the column 'EAN' more than once.");
  });

  it('reads a column named attributes (any case) as the JSON object of attributes, not as one attribute', () => {
    const layout = layoutFromHeader(['ean', 'name', ' Attributes ', 'color'], 'upsert');
    expect(layout.attributesJson).toBe(2);
    expect(layout.attributes).toEqual([{ name: 'color', index: 3 }]);
    expect(layoutFromHeader(['ean', 'name'], 'upsert').attributesJson).toBeUndefined();
    expect(headerError(['ean', 'name', 'attributes', 'ATTRIBUTES']).code).toBe('DUPLICATE_COLUMN');
  });

  it('rejects an attribute column named twice', () => {
    const error = headerError(['ean', 'name', 'Color', 'color ']);
    expect(error.code).toBe('DUPLICATE_COLUMN');
    expect(error.message).toContain("'color'");
  });

  it('rejects a plain column and an attributes. column that name the same attribute, which one row would lose', () => {
    expect(headerError(['ean', 'name', 'color', 'Attributes.Color'])).toMatchObject({
      code: 'DUPLICATE_COLUMN',
      message: "The header gives the attribute 'color' twice, from 'color' and from 'Attributes.Color'.",
    });
  });

  it('allows a report column twice, since report columns are ignored', () => {
    expect(() => layoutFromHeader(['ean', 'name', 'error_code', 'error_code'], 'upsert')).not.toThrow();
  });

  it('fails with NO_HEADER when every header cell is blank', () => {
    for (const header of [[''], ['', ' ', '\t']]) {
      const error = headerError(header);
      expect(error.code).toBe('NO_HEADER');
      expect(error.message).toBe('The file has no header row.');
    }
  });
});

describe('detectDelimiter', () => {
  it('detects a comma, a semicolon and a tab', () => {
    expect(detectDelimiter('ean,name,price\n1,a,2\n')).toBe(',');
    expect(detectDelimiter('ean;name;price\n1;a;2\n')).toBe(';');
    expect(detectDelimiter('ean\tname\tprice\n1\ta\t2\n')).toBe('\t');
  });

  it('picks the delimiter that occurs most often in the header', () => {
    expect(detectDelimiter('ean;name;price,currency\n')).toBe(';');
    expect(detectDelimiter('ean\tname\tdescription;notes\n')).toBe('\t');
  });

  it('ignores delimiters inside quoted header names', () => {
    expect(detectDelimiter('"a;b;c;d",name,price\n')).toBe(',');
    expect(detectDelimiter('ean;"size, width, height";name\n')).toBe(';');
    expect(detectDelimiter('"x,""y"",z";name;price\n')).toBe(';');
  });

  it('reads only the first line, also when it ends in CRLF or contains a quoted line break', () => {
    expect(detectDelimiter('ean;name\r\n1,2,3,4,5\r\n')).toBe(';');
    expect(detectDelimiter('ean\n1;2;3;4\n')).toBe(',');
    expect(detectDelimiter('"multi\nline,,,,";name;price\n1,2,3,4,5,6\n')).toBe(';');
  });

  it('ignores a UTF-8 byte order mark', () => {
    expect(detectDelimiter('\uFEFFean;name\n')).toBe(';');
  });

  it('falls back to a comma when the header has no candidate', () => {
    expect(detectDelimiter('ean\n4006381333931\n')).toBe(',');
    expect(detectDelimiter('')).toBe(',');
    expect(detectDelimiter('ean|name|price\n')).toBe(',');
  });
});

describe('layoutFromHeader with a column mapping', () => {
  const mapping = (columns: Record<string, string>) => ({ columns, label: "the column mapping of profile 'p'" });
  const thrown = (read: () => unknown): unknown => {
    try {
      read();
    } catch (error) {
      return error;
    }
    throw new Error('expected a HeaderError');
  };

  it('renames headers matched case-insensitively after trimming; ignore drops a column; attributes.<key> names one', () => {
    const layout = layoutFromHeader(
      [' EAN Code ', 'Artikelname', 'Farbe', 'intern', 'Gewicht'],
      'upsert',
      mapping({ 'ean code': 'ean', ARTIKELNAME: 'name', Farbe: 'attributes.color', intern: 'ignore' }),
    );
    expect(layout.product).toEqual({ ean: 0, name: 1 });
    expect(layout.attributes).toEqual([
      { name: 'color', index: 2 },
      { name: 'Gewicht', index: 4 },
    ]);
  });

  it('matches headers and the mapping in Unicode NFC, whichever form each is written in; names attributes in NFC, of headers and of the mapping alike', () => {
    const [nfc, nfd] = [(text: string) => text.normalize('NFC'), (text: string) => text.normalize('NFD')];
    const layout = layoutFromHeader(
      ['ean', 'name', nfd('Währung'), nfc('Größe'), nfd('Qualität')],
      'upsert',
      mapping({ [nfc('währung')]: 'currency', [nfd('Größe')]: `attributes.${nfd('größe')}` }),
    );
    expect(layout.product).toEqual({ ean: 0, name: 1, currency: 2 });
    expect(layout.attributes).toEqual([
      // The profile's own key in its case, in NFC as an export with the same columns reads it back.
      { name: nfc('größe'), index: 3 },
      { name: nfc('Qualität'), index: 4 },
    ]);
    expect(thrown(() => layoutFromHeader(['ean', 'name', nfc('Größe'), nfd('größe')], 'upsert'))).toMatchObject({ code: 'DUPLICATE_COLUMN' });
  });

  it('puts a created_at or updated_at header where the mapping says, instead of ignoring it', () => {
    const layout = layoutFromHeader(
      ['ean', 'name', 'Updated_At', 'created_at', 'Geändert'],
      'upsert',
      mapping({ updated_at: 'attributes.updated_at', 'geändert': 'attributes.changed' }),
    );
    expect(layout.attributes).toEqual([
      { name: 'updated_at', index: 2 },
      { name: 'changed', index: 4 },
    ]);
  });

  it('refuses a header mapped to an attribute that another header names plainly', () => {
    expect(thrown(() => layoutFromHeader(['ean', 'name', 'Farbe', 'color'], 'upsert', mapping({ Farbe: 'attributes.color' })))).toMatchObject({
      code: 'DUPLICATE_COLUMN',
      message: "The header gives the attribute 'color' twice, from 'Farbe' and from 'color' (after the column mapping of profile 'p').",
    });
  });

  it('refuses two headers that end up as the same column', () => {
    expect(thrown(() => layoutFromHeader(['EAN Code', 'ean', 'name'], 'upsert', mapping({ 'EAN Code': 'ean' })))).toMatchObject({
      code: 'DUPLICATE_COLUMN',
      message: "The header gives 'ean' twice, from 'EAN Code' and from 'ean' (after the column mapping of profile 'p').",
    });
  });

  it('names the mapping when it leaves a required column unmapped', () => {
    const error = thrown(() => layoutFromHeader(['Barcode', 'Titel'], 'upsert', mapping({ Titel: 'name' })));
    expect(error).toMatchObject({
      code: 'MISSING_COLUMN',
      message:
        "The header is missing the required column 'ean': the column mapping of profile 'p' maps no header to 'ean'. " +
        "The file's header: 'Barcode', 'Titel'.",
    });
  });
});
