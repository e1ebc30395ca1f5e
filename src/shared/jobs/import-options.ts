import { z } from 'zod';

/** The options of an import job, as stored on the job row and echoed in its `options`. */
export const importOptionsSchema = z.object({
  mode: z.enum(['upsert', 'create', 'update']),
  on_error: z.enum(['abort', 'skip']),
  /** null: detected from the header line among `,` `;` and tab. */
  delimiter: z.enum([',', ';', '\t']).nullable(),
  dry_run: z.boolean(),
  /** What the upload is; absent: CSV (jobs stored before workbooks were accepted). */
  format: z.enum(['csv', 'xlsx']).optional(),
  sheet: z.string().min(1).optional(),
});

export type ImportOptions = z.infer<typeof importOptionsSchema>;
