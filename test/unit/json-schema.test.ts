import { describe, expect, it } from 'vitest';
import { validateJson } from '../support/json-schema.js';

const root = {
  components: {
    schemas: {
      Item: {
        type: 'object',
        properties: { id: { type: 'string', format: 'uuid' }, count: { type: 'integer', minimum: 0 }, note: { type: ['string', 'null'] } },
        required: ['id', 'count'],
        additionalProperties: false,
      },
    },
  },
};
const page = { type: 'object', properties: { data: { type: 'array', items: { $ref: '#/components/schemas/Item' } } }, required: ['data'] };

describe('validateJson (the test suite’s check of responses against the OpenAPI document)', () => {
  it('accepts a body that matches, through $ref', () => {
    expect(validateJson({ data: [{ id: '0b9c1b8e-7d1e-4c1a-9a53-1d2f3e4a5b6c', count: 1, note: null }] }, page, root)).toEqual([]);
  });

  it('reports each mismatch with its path', () => {
    expect(validateJson({ data: [{ id: 'x', count: -1, extra: 1 }, { count: 1.5 }] }, page, root)).toEqual([
      '$.data[0].id: "x" is not a uuid',
      '$.data[0].count: below 0',
      '$.data[0].extra: no value is allowed here',
      "$.data[1]: missing required property 'id'",
      '$.data[1].count: expected integer, got number',
    ]);
  });

  it('fails on a schema keyword it does not understand instead of ignoring it', () => {
    expect(validateJson('a', { type: 'string', multipleOf: 2 }, root)).toEqual(["$: unsupported schema keyword 'multipleOf'"]);
  });
});
