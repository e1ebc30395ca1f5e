/** The media type of an .xlsx workbook (Office Open XML spreadsheet), accepted by POST /v1/imports. */
export const XLSX_MEDIA_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
