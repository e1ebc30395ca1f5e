import { z } from 'zod';
import { ROW_ERROR_CODES, ROW_ERROR_MEANINGS } from '../../shared/jobs/row-error-codes.js';

/**
 * The codes of a job's per-row report in the OpenAPI document: the enum of a report entry's
 * `code`, and the Report codes section of the document's introduction (which docs/api.md shows).
 * Both list the codes the workers write (row-error-codes.ts), so neither can miss one.
 */

/** What a code is about, for the enum and the section alike. */
const WHAT_A_CODE_NAMES =
  "a problem of a row's value (`field` names it), of an import's file as a whole (`field` null), or why an enrichment " +
  'did not enrich a product';

/** A report entry's `code` (GET /v1/jobs/{id}/errors), listed with each code's meaning. */
export const rowErrorCodeSchema = z.enum(ROW_ERROR_CODES).meta({
  id: 'RowErrorCode',
  description: [
    `The code of a report entry: ${WHAT_A_CODE_NAMES}. errors.csv and rows.csv write a row's codes in \`error_code\`, ` +
      "joined with `; `. Report codes in the document's introduction lists them too.",
    Object.entries(ROW_ERROR_MEANINGS)
      .map(([code, meaning]) => `- \`${code}\`: ${meaning}`)
      .join('\n'),
  ].join('\n\n'),
});

/** The Report codes section of the document's introduction: one row per code. */
export function reportCodesSection(): string {
  return [
    '## Report codes',
    '',
    "A job's per-row report (`code` of GET /v1/jobs/{id}/errors; `error_code` of errors.csv and rows.csv, a row's codes " +
      `joined with \`; \`) gives each problem one of these codes: ${WHAT_A_CODE_NAMES}.`,
    '',
    '| `code` | What it means |',
    '| --- | --- |',
    ...Object.entries(ROW_ERROR_MEANINGS).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`),
  ].join('\n');
}
