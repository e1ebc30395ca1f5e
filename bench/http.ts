import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** The parts of the job resource the benchmark reads. */
export interface JobView {
  id: string;
  status: 'processing' | 'completed' | 'failed' | 'cancelled';
  phase: 'queued' | 'running' | 'finalizing' | 'done';
  error_code: string | null;
  detail: string | null;
  progress: { rows_total: number | null; rows_processed: number; rows_failed: number; rows_created: number };
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

async function json<T>(response: Response, what: string): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** Creates an account with the operator key; returns its API key. */
export async function createAccount(baseUrl: string, adminKey: string, email: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/admin/accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  return (await json<{ api_key: string }>(response, 'POST /v1/admin/accounts')).api_key;
}

export async function getJob(baseUrl: string, apiKey: string, id: string): Promise<JobView> {
  const response = await fetch(`${baseUrl}/v1/jobs/${id}`, { headers: { 'x-api-key': apiKey } });
  return json<JobView>(response, `GET /v1/jobs/${id}`);
}

/**
 * POSTs `file` to /v1/imports as a raw body of `contentType` (text/csv, or the .xlsx type), streamed
 * from disk (never buffered here) with `query` added to the URL, and returns the accepted job's id
 * once the 202 arrives.
 */
export async function uploadCsv(baseUrl: string, apiKey: string, file: string, contentType = 'text/csv', query = ''): Promise<string> {
  const { size } = await stat(file);
  const url = new URL(`/v1/imports${query ? `?${query}` : ''}`, baseUrl);
  const req = request(url, {
    method: 'POST',
    headers: { 'content-type': contentType, 'content-length': size, 'x-api-key': apiKey },
  });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    req.on('error', reject);
  });
  // If the server answers early (an error) the upload may be cut off; the answer says why.
  const sent = pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), req).catch((error: unknown) => error);
  const { status, body } = await answered;
  await sent;
  if (status !== 202) throw new Error(`POST /v1/imports: HTTP ${status}: ${body.slice(0, 500)}`);
  return (JSON.parse(body) as { id: string }).id;
}
