/** The media type of an .xlsx workbook (Office Open XML spreadsheet), accepted by POST /v1/imports. */
export const XLSX_MEDIA_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The first bytes of a zip archive (a local file header); an .xlsx workbook is one. */
export const ZIP_SIGNATURE: Readonly<Buffer> = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** Whether a file starting with `head` is a zip archive, which an import reads as an .xlsx workbook. */
export function startsLikeZip(head: Buffer): boolean {
  return head.length >= ZIP_SIGNATURE.length && head.subarray(0, ZIP_SIGNATURE.length).equals(ZIP_SIGNATURE);
}
