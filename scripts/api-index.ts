import { readFile, writeFile } from 'node:fs/promises';

/**
 * Writes docs/api.md, the reference's index that reads well on a code host, from the OpenAPI
 * document: one table of operations per tag (who may call it, its query parameters, its
 * statuses) and one of schemas. Every schema, body and example is in api.html beside it. The
 * output depends on the document alone (no date, no path), so `npm run docs:check` can compare it
 * byte for byte.
 *
 * Usage: tsx scripts/api-index.ts <openapi.json> <api.md>
 */

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
}

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  responses?: Record<string, unknown>;
}

interface Schema {
  description?: string;
  properties?: Record<string, unknown>;
  required?: string[];
}

interface SecurityScheme {
  type: string;
  scheme?: string;
  in?: string;
  name?: string;
  description?: string;
}

interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, SecurityScheme> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** A table cell: one line, pipes escaped. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();

const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;

function table(header: string[], rows: string[][]): string[] {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)];
}

/** The operation's "Needs …" sentence (added for every authenticated route), else who may call it. */
function access(operation: Operation): string {
  const needs = /Needs [^\n]*?\.(?=\s|$)/.exec(operation.description ?? '');
  if (needs) return needs[0].replace(/^Needs /, '').replace(/\.$/, '');
  return operation.security?.length ? 'a key' : 'anyone';
}

/** The summary, else the description's first sentence that is not about credentials. */
function purpose(operation: Operation): string {
  if (operation.summary) return operation.summary;
  const sentence = (operation.description ?? '')
    .split(/\n\n/)
    .find((paragraph) => !paragraph.startsWith('Needs '));
  return sentence ? (/^.*?\.(?=\s|$)/.exec(sentence)?.[0] ?? sentence) : '';
}

function query(operation: Operation): string {
  const names = (operation.parameters ?? [])
    .filter((parameter) => parameter.in === 'query')
    .map((parameter) => `\`${parameter.name}\`${parameter.required ? ' (required)' : ''}`);
  return names.join(', ');
}

/** Operations grouped by their first tag, tags in order of first use, operations in document order. */
function operationsByTag(document: OpenApiDocument): Map<string, string[][]> {
  const groups = new Map<string, string[][]>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = operations[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? 'other';
      const statuses = Object.keys(operation.responses ?? {}).join(', ');
      const rows = groups.get(tag) ?? [];
      rows.push([method.toUpperCase(), `\`${path}\``, purpose(operation), access(operation), query(operation), statuses]);
      groups.set(tag, rows);
    }
  }
  return groups;
}

function securityLines(schemes: Record<string, SecurityScheme>): string[] {
  const rows = Object.entries(schemes).map(([name, scheme]) => {
    const how = scheme.description ?? (scheme.in === 'header' ? `\`${scheme.name}: <key>\`` : `${scheme.type} ${scheme.scheme ?? ''}`);
    return [`\`${name}\``, how];
  });
  return table(['Scheme', 'How the credential is sent'], rows);
}

function schemaLines(schemas: Record<string, Schema>): string[] {
  const rows = Object.entries(schemas).map(([name, schema]) => {
    const required = new Set(schema.required ?? []);
    const fields = Object.keys(schema.properties ?? {}).map((field) => (required.has(field) ? `\`${field}\`` : `\`${field}\`?`));
    // Its first paragraph: a list after it (RowErrorCode's codes) has a section of its own above.
    return [`\`${name}\``, schema.description?.split('\n\n')[0] ?? '', fields.join(', ')];
  });
  return table(['Schema', 'What it is', 'Fields (`?`: optional)'], rows);
}

/**
 * The introduction's opening paragraphs, and its sections (`## Errors`, …): the sections come after
 * the credentials, as headings of this page.
 */
function introduction(description: string): { opening: string; sections: string[] } {
  const [opening = '', ...sections] = description.split(/\n\n(?=## )/);
  return { opening, sections };
}

/** The Markdown index of `document`. */
export function apiIndex(document: OpenApiDocument): string {
  const { opening, sections } = introduction(document.info.description ?? '');
  const lines = [
    `# ${document.info.title} ${document.info.version}: HTTP reference`,
    '',
    '<!-- Generated by `npm run docs` from the OpenAPI document; do not edit. CI runs `npm run docs:check`. -->',
    '',
    opening,
    '',
    'This page is the index. The full reference, with every parameter, body, response schema and',
    'header, is [api.html](api.html): one self-contained page (Redoc) to open in a browser, offline too.',
    'Both are built from [openapi.json](openapi.json), the OpenAPI 3.1 document the service serves at',
    '`GET /openapi.json` (with Swagger UI at `/docs`), taken with the default settings.',
    '',
    '## Credentials',
    '',
    ...securityLines(document.components?.securitySchemes ?? {}),
    ...sections.flatMap((section) => ['', section]),
    '',
    '## Operations',
  ];
  for (const [tag, rows] of operationsByTag(document)) {
    lines.push('', `### ${tag}`, '', ...table(['Method', 'Path', 'What it does', 'Who may call it', 'Query', 'Statuses'], rows));
  }
  lines.push('', '## Schemas', '', ...schemaLines(document.components?.schemas ?? {}), '');
  return lines.join('\n');
}

const [source, target] = process.argv.slice(2);
if (!source || !target) {
  console.error('usage: tsx scripts/api-index.ts <openapi.json> <api.md>');
  process.exit(2);
}
const document = JSON.parse(await readFile(source, 'utf8')) as OpenApiDocument;
await writeFile(target, apiIndex(document));
