import { restoreFormula } from '../../shared/product/formula-cells.js';
import {
  ATTRIBUTE_COUNT_MESSAGE,
  attributesProblem,
  attributeValueProblem,
  MAX_ATTRIBUTES,
  withStoredNames,
} from '../../shared/product/attribute-rules.js';
import { changedNumberMessage, changedNumbers } from '../../shared/product/exact-numbers.js';

/** One attribute value as products store it. */
export type AttributeValue = string | number | boolean;

/** The attributes of a cell, or its problem and the field the report names (`attributes` unless given). */
export type AttributesCell = { ok: true; attributes: Record<string, AttributeValue> } | { ok: false; message: string; field?: string };

const NOT_AN_OBJECT = 'The attributes cell must be a JSON object of attributes, such as {"color":"red","size":42}';

/**
 * Reads a cell of the `attributes` column: a JSON object of flat string, number or boolean
 * values (what a CSV export writes). An empty (or blank) cell gives `{}`, which changes nothing.
 * A number JSON.parse would change (9007199254740993, 1e400) is refused, naming the attribute,
 * and the names are returned as stored, in NFC (a name given in two forms is refused). The
 * object JSON.parse built is returned as is when its names are in NFC already (its keys are own
 * properties, `__proto__` included).
 */
export function readAttributesCell(raw: string): AttributesCell {
  const cell = restoreFormula(raw);
  if (cell.trim() === '') return { ok: true, attributes: {} };
  let value: unknown;
  try {
    value = JSON.parse(cell);
  } catch {
    return { ok: false, message: `${NOT_AN_OBJECT}; it is not valid JSON.` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: `${NOT_AN_OBJECT}.` };
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const item = object[key];
    const type = typeof item;
    // Any number: one JSON.parse changed (1e400 became Infinity) is refused below, as written.
    if (type === 'string' || type === 'boolean' || type === 'number') continue;
    return {
      ok: false,
      message: `The attribute '${key}' must be a string, number or boolean (nested objects, arrays and null are not allowed).`,
    };
  }
  const changed = changedNumbers(cell, { max: 1 })[0];
  if (changed) {
    const name = String(changed.path[0]);
    return { ok: false, field: `attributes.${name}`, message: changedNumberMessage(name, changed) };
  }
  return withStoredNames(object as Record<string, AttributeValue>);
}

/** A row's attributes, or the problem that fails the row, with the field the report names. */
export type RowAttributes = { ok: true; attributes: Record<string, AttributeValue> } | { ok: false; field: string; message: string };

/**
 * The attributes of one row: the `attributes` JSON cell (when the file has that column) with the
 * attribute columns over it, a column's cell winning and an empty one taking its name out of the
 * object too; then checked as the API checks a body's attributes (count, lengths, Unicode text, the
 * name `__proto__`), so that a row that imports is a body that PUTs. A column's name was checked
 * once with the header (its `problem`, see layoutFromHeader): it fails the rows that fill it. A row
 * without the JSON cell counts its names and checks its values; the JSON cell's own names
 * (`__proto__` among them: JSON.parse makes it an own name) are checked on every row.
 */
export function readRowAttributes(
  record: readonly string[],
  columns: ReadonlyArray<{ name: string; index: number; problem?: string }>,
  jsonColumn: number | undefined,
): RowAttributes {
  let attributes: Record<string, AttributeValue> = {};
  if (jsonColumn !== undefined) {
    const cell = readAttributesCell(record[jsonColumn]!);
    if (!cell.ok) return { ok: false, field: cell.field ?? 'attributes', message: cell.message };
    attributes = cell.attributes;
    for (const { name } of columns) delete attributes[name];
  }
  let names = 0;
  for (const { name, index, problem } of columns) {
    const cell = restoreFormula(record[index]!);
    if (cell === '') continue;
    if (problem) return { ok: false, field: 'attributes', message: problem };
    attributes[name] = cell;
    if (jsonColumn !== undefined) continue;
    if (++names > MAX_ATTRIBUTES) return { ok: false, field: 'attributes', message: ATTRIBUTE_COUNT_MESSAGE };
    const valueProblem = attributeValueProblem(cell);
    if (valueProblem) return { ok: false, field: `attributes.${name}`, message: valueProblem };
  }
  const problem = jsonColumn === undefined ? null : attributesProblem(attributes);
  if (!problem) return { ok: true, attributes };
  return { ok: false, field: ['attributes', ...problem.path].join('.'), message: problem.message };
}
