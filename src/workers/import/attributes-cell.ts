import { restoreFormula } from '../../shared/product/formula-cells.js';

/** One attribute value as products store it. */
export type AttributeValue = string | number | boolean;

export type AttributesCell = { ok: true; attributes: Record<string, AttributeValue> } | { ok: false; message: string };

const NOT_AN_OBJECT = 'The attributes cell must be a JSON object of attributes, such as {"color":"red","size":42}';

/**
 * Reads a cell of the `attributes` column: a JSON object of flat string, number or boolean
 * values (what a CSV export writes). An empty (or blank) cell gives `{}`, which changes nothing.
 * The object JSON.parse built is returned as is (its keys are own properties, `__proto__`
 * included).
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
    if (type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(item))) continue;
    return {
      ok: false,
      message: `The attribute '${key}' must be a string, number or boolean (nested objects, arrays and null are not allowed).`,
    };
  }
  return { ok: true, attributes: object as Record<string, AttributeValue> };
}
