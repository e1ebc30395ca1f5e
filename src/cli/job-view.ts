/** The job resource as the CLI reads it (API.md §4); `rows_csv` is offered on failed imports by newer services. */
export interface JobView {
  id: string;
  type: 'import' | 'export' | 'enrichment';
  status: 'processing' | 'completed' | 'failed' | 'cancelled';
  phase: string;
  error_code: string | null;
  detail: string | null;
  progress: {
    rows_total: number | null;
    rows_processed: number;
    rows_succeeded: number;
    rows_failed: number;
    rows_created: number;
    rows_updated: number;
    rows_unchanged: number;
  };
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  links: { self: string; errors: string; errors_csv: string; result: string | null; rows_csv?: string | null };
}

/** `202 {id, status}` of a job-starting request. */
export interface JobAccepted {
  id: string;
  status: string;
}
