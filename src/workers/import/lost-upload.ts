/** How the message of a {@link MissingUploadError} starts (and its log line reads). */
const MISSING_UPLOAD_REASON = 'import upload missing from storage';

/**
 * An import attempt that found its stored upload missing. It is retried like an I/O failure: the
 * store of this worker may not be the API's (another DATA_DIR, a volume not mounted yet, a proxy
 * answering 404), and another attempt, here or on another worker, may find the file. Its message is
 * what the queue keeps of the last attempt (BullMQ's failedReason), so that the job failed once
 * the attempts ran out says the upload is missing ({@link wasMissingUpload}).
 */
export class MissingUploadError extends Error {
  constructor(path: string, options?: ErrorOptions) {
    super(`${MISSING_UPLOAD_REASON}: ${path}`, options);
    this.name = 'MissingUploadError';
  }
}

/** Whether an attempt that failed with the message `reason` (BullMQ's failedReason) found its upload missing. */
export function wasMissingUpload(reason: string | null | undefined): boolean {
  return reason?.startsWith(`${MISSING_UPLOAD_REASON}: `) === true;
}
