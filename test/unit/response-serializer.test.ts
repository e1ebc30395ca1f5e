import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { anyValueRecordsWhole, responseSerializerCompiler } from '../../src/api/response-serializer.js';
import { jobResourceSchema } from '../../src/api/schemas.js';
import { answeredInstant } from '../../src/shared/instant.js';
import { toJobResource, type JobRow } from '../../src/shared/jobs/job-row.js';

const serializerOf = (schema: z.ZodType) => responseSerializerCompiler({ schema } as Parameters<typeof responseSerializerCompiler>[0]);

const job = (options: Record<string, unknown>): JobRow => ({
  id: 'c35e7cfd-7dc4-4e69-9b68-2485bec027be',
  account_id: '0b6c2f7e-4a55-4d8e-9a8e-2f0c5d1e7a11',
  type: 'import',
  status: 'failed',
  phase: 'done',
  error_code: 'IMPORT_FAILED',
  detail: '1 of 2 rows failed validation; "quoted"\nand a new line',
  options,
  rows_total: 2,
  rows_processed: 2,
  rows_succeeded: 1,
  rows_failed: 1,
  rows_created: 0,
  rows_updated: 0,
  rows_unchanged: 0,
  input_path: 'uploads/2026-12-06/c35e7cfd.csv',
  input_bytes: 120,
  attempts: 1,
  created_at: '2026-12-06 00:03:24.598+00',
  started_at: '2026-12-06 00:03:24.7+00',
  finished_at: '2026-12-06 00:03:25+00',
  schedule_id: null,
});

describe('anyValueRecordsWhole', () => {
  it('turns a record of any values into the empty schema, keeping its description', () => {
    const json = z.toJSONSchema(
      z.object({ options: z.record(z.string(), z.unknown()), meta: z.record(z.string(), z.unknown()).meta({ description: 'free' }) }),
      { io: 'output', target: 'draft-07' },
    );
    const whole = anyValueRecordsWhole(json) as { properties: Record<string, unknown>; required: string[] };
    expect(whole.properties).toEqual({ options: {}, meta: { description: 'free' } });
    expect(whole.required).toEqual(['options', 'meta']);
  });

  it('leaves objects with declared properties and records of typed values as they are', () => {
    const json = z.toJSONSchema(
      z.object({ columns: z.record(z.string(), z.string()).nullable(), progress: z.object({ rows: z.number() }) }),
      { io: 'output', target: 'draft-07' },
    );
    expect(anyValueRecordsWhole(json)).toEqual(json);
  });
});

describe('the response serializer', () => {
  const serialize = serializerOf(jobResourceSchema);

  it("writes a job resource, its options whole, as JSON.stringify does", () => {
    const options = {
      mode: 'upsert',
      on_error: 'skip',
      delimiter: ';',
      columns: { EAN: 'ean', 'Bezeichnung "kurz"': 'name', 'Größe\u2028': 'attributes.size' },
      profile: { id: '8a1e5c52-1f0e-4b55-9f55-3c3a8b7e2d10', name: 'akeneo' },
      decimal_separator: ',',
      dry_run: false,
      sheet: null,
      nested: [1, 2.5, 'three', { four: [null, true] }],
    };
    const resource = toJobResource(job(options));
    expect(serialize(resource)).toBe(JSON.stringify(resource));
    expect(JSON.parse(serialize(toJobResource(job({})))).options).toEqual({});
  });

  it("writes a time as the text it is: the document's format date-time is not checked", () => {
    const times = serializerOf(z.object({ at: answeredInstant(), until: answeredInstant().nullable() }));
    for (const text of ['2026-12-06T00:03:24Z', '2026-12-06T00:03:24.598Z', '+010000-01-01T00:00:00.000Z']) {
      expect(times({ at: text, until: text }), text).toBe(JSON.stringify({ at: text, until: text }));
    }
    expect(times({ at: '2026-12-06T00:03:24Z', until: null })).toBe('{"at":"2026-12-06T00:03:24Z","until":null}');
  });

  it('still refuses a resource without a required field', () => {
    const { options: _options, ...withoutOptions } = toJobResource(job({ mode: 'upsert' }));
    expect(() => serialize(withoutOptions)).toThrow(/options/);
  });
});
