import { crc32, deflateRawSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import { XLSX_MEDIA_TYPE } from '../../src/shared/jobs/upload-formats.js';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { multipartBody } from './multipart.js';
import type { TestContext } from './test-context.js';

export { XLSX_MEDIA_TYPE };

/** A workbook written by exceljs (shared strings, a styles part: what Excel-like writers produce). */
export async function excelWorkbook(fill: (workbook: ExcelJS.Workbook) => void): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  fill(workbook);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

/** One member of a hand-written archive; `declaredSize` lies about its inflated size. */
export interface ZipPart {
  path: string;
  content: string | Buffer;
  declaredSize?: number;
}

/**
 * A zip archive of `parts`, deflated (or stored, as JSZip and SheetJS write by default), in the
 * order given: for workbooks exceljs cannot write (inline strings, members in Excel's order,
 * archives that lie about their sizes).
 */
export function zipOf(parts: ZipPart[], { stored = false } = {}): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const data = Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content);
    const packed = stored ? data : deflateRawSync(data);
    const name = Buffer.from(part.path);
    const size = part.declaredSize ?? data.length;
    const fields = Buffer.alloc(26);
    fields.writeUInt16LE(20, 0); // version needed
    fields.writeUInt16LE(0, 2); // flags
    fields.writeUInt16LE(stored ? 0 : 8, 4); // stored or deflated
    fields.writeUInt32LE(0x00210000, 6); // 1980-01-01 00:00
    fields.writeUInt32LE(crc32(data), 10);
    fields.writeUInt32LE(packed.length, 14);
    fields.writeUInt32LE(size, 18);
    fields.writeUInt16LE(name.length, 22);
    fields.writeUInt16LE(0, 24);
    const local = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), fields, name, packed]);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    fields.copy(entry, 6, 0, 26);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    locals.push(local);
    offset += local.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const RELS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

/** What a hand-written workbook holds: its sheets' XML (`<sheetData>` content) and other parts. */
export interface HandWrittenWorkbook {
  /**
   * `state`: `hidden` or `veryHidden` for a sheet Excel shows no tab for. `chart`: a chart sheet
   * (a chart on a tab of its own, in `xl/chartsheets/`), whose `rows` are left out.
   */
  sheets: Array<{ name: string; rows: string; state?: string; chart?: boolean }>;
  /** `<si>` elements of the shared strings part (raw XML); no part when unset. */
  sharedStrings?: string[];
  /** `<numFmts>` and `<cellXfs>` of the styles part (raw XML); no part when unset. */
  styles?: string;
  date1904?: boolean;
  /** Prefix of the spreadsheet elements (`x:`), as some writers use. */
  prefix?: string;
}

/**
 * The members of a workbook in the order Excel writes them: workbook, relationships, the
 * sheets, then styles and shared strings (after the sheets that use them).
 */
export function handWrittenWorkbook(book: HandWrittenWorkbook): ZipPart[] {
  const p = book.prefix ?? '';
  const ns = p ? `xmlns:${p.slice(0, -1)}="${MAIN}"` : `xmlns="${MAIN}"`;
  const sheetList = book.sheets
    .map((sheet, i) => `<${p}sheet name="${sheet.name}" sheetId="${i + 1}"${sheet.state ? ` state="${sheet.state}"` : ''} r:id="rId${i + 1}"/>`)
    .join('');
  const parts: ZipPart[] = [
    { path: '[Content_Types].xml', content: '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>' },
    { path: '_rels/.rels', content: `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>` },
    {
      path: 'xl/workbook.xml',
      content: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><${p}workbook ${ns} xmlns:r="${RELS}"><${p}workbookPr${book.date1904 ? ' date1904="1"' : ''}/><${p}sheets>${sheetList}</${p}sheets></${p}workbook>`,
    },
    {
      path: 'xl/_rels/workbook.xml.rels',
      content: `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${book.sheets
        .map((sheet, i) =>
          sheet.chart
            ? `<Relationship Id="rId${i + 1}" Type="${RELS}/chartsheet" Target="chartsheets/sheet${i + 1}.xml"/>`
            : `<Relationship Id="rId${i + 1}" Type="${RELS}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`,
        )
        .join('')}</Relationships>`,
    },
    ...book.sheets.map((sheet, i) =>
      sheet.chart
        ? {
            path: `xl/chartsheets/sheet${i + 1}.xml`,
            content: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<${p}chartsheet ${ns} xmlns:r="${RELS}"><${p}sheetPr/><${p}sheetViews><${p}sheetView workbookViewId="0"/></${p}sheetViews><${p}drawing r:id="rId1"/></${p}chartsheet>`,
          }
        : {
            path: `xl/worksheets/sheet${i + 1}.xml`,
            content: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<${p}worksheet ${ns} xmlns:r="${RELS}"><${p}sheetData>${sheet.rows}</${p}sheetData></${p}worksheet>`,
          },
    ),
  ];
  if (book.styles !== undefined) {
    parts.push({ path: 'xl/styles.xml', content: `<?xml version="1.0"?><${p}styleSheet ${ns}>${book.styles}</${p}styleSheet>` });
  }
  if (book.sharedStrings) {
    const count = book.sharedStrings.length;
    parts.push({
      path: 'xl/sharedStrings.xml',
      content: `<?xml version="1.0"?><${p}sst ${ns} count="${count}" uniqueCount="${count}">${book.sharedStrings.join('')}</${p}sst>`,
    });
  }
  return parts;
}

/** POSTs a workbook to /v1/imports, raw with the xlsx content type or as a multipart `file` field. */
export function uploadWorkbook(
  ctx: TestContext,
  key: string,
  workbook: Buffer,
  query: Record<string, string> = {},
  as: 'raw' | { filename: string; contentType: string } = 'raw',
) {
  if (as === 'raw') return ctx.upload(key, workbook, query, { 'content-type': XLSX_MEDIA_TYPE });
  const { body, contentType } = multipartBody([{ name: 'file', content: workbook, ...as }]);
  return ctx.upload(key, body, query, { 'content-type': contentType });
}

/** Uploads a workbook and waits for its job to end. */
export async function importWorkbook(
  ctx: TestContext,
  key: string,
  workbook: Buffer,
  query?: Record<string, string>,
  as?: Parameters<typeof uploadWorkbook>[4],
): Promise<JobResource> {
  const response = await uploadWorkbook(ctx, key, workbook, query, as);
  if (response.statusCode !== 202) throw new Error(`upload: ${response.statusCode} ${response.body}`);
  return ctx.waitForJob(key, response.json<{ id: string }>().id);
}

/**
 * `parts` with `marker` in each member's XML replaced by `bytes` bytes of `filler` repeated (a
 * multiple of its length): a member that inflates to hundreds of megabytes from a few hundred kilobytes,
 * without the test holding the text as a string.
 */
export function withFiller(parts: ZipPart[], marker: string, filler: string, bytes: number): ZipPart[] {
  return parts.map((part) => {
    const xml = part.content.toString();
    const at = xml.indexOf(marker);
    if (at === -1) return part;
    const head = Buffer.from(xml.slice(0, at));
    const tail = Buffer.from(xml.slice(at + marker.length));
    const content = Buffer.allocUnsafe(head.length + bytes + tail.length).fill(filler, head.length, head.length + bytes);
    head.copy(content, 0);
    tail.copy(content, head.length + bytes);
    return { ...part, content };
  });
}
