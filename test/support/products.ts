import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { gtinCheckDigit } from '../../src/shared/product/gtin.js';

/** A valid EAN-13 (right check digit) numbered `n`, with a `prefix` of three digits. */
export function eanNumber(n: number, prefix = '400'): string {
  const body = `${prefix}${String(n).padStart(9, '0')}`;
  return `${body}${gtinCheckDigit(body)}`;
}

/** Sends a JSON request with an API key; `payload` undefined sends no body. */
export function sendJson(
  app: FastifyInstance,
  key: string,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    headers: { 'x-api-key': key, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
}
