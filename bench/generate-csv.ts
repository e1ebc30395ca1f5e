import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { gtinCheckDigit } from '../src/shared/product/gtin.js';

/** mulberry32: a tiny seeded PRNG, so the same seed always gives the same file. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ADJECTIVES = ['Classic', 'Organic', 'Premium', 'Compact', 'Deluxe', 'Eco', 'Smart', 'Mini', 'Ultra', 'Pro',
  'Fresh', 'Vintage', 'Wireless', 'Family', 'Travel', 'Heavy-Duty', 'Soft', 'Crispy', 'Golden', 'Rustic'];
const NOUNS = ['Coffee Beans', 'Toaster', 'Desk Lamp', 'Water Bottle', 'Backpack', 'Headphones', 'Olive Oil',
  'Notebook', 'Frying Pan', 'Yoga Mat', 'Tea Kettle', 'Phone Case', 'Shampoo', 'Dog Food', 'Sneakers',
  'Chocolate Bar', 'Blender', 'Towel Set', 'Pasta', 'Screwdriver'];
const BRANDS = ['Acme', 'Nordica', 'Vellum', 'Bravado', 'Kestrel', 'Lumio', 'Orbis', 'Pinewood', 'Quanta',
  'Rivet', 'Solace', 'Tundra', 'Umbra', 'Vireo', 'Wexley', 'Zephyr'];
const CATEGORIES = ['Grocery', 'Kitchen', 'Electronics', 'Home', 'Garden', 'Sports', 'Pets', 'Beauty', 'Office',
  'Toys', 'Tools', 'Apparel'];
const WORDS = ['durable', 'light', 'everyday', 'quality', 'design', 'easy', 'care', 'made', 'in', 'EU', 'with',
  'natural', 'materials', 'for', 'home', 'and', 'outdoor', 'use', 'value', 'pack'];

/** Multiplier coprime to 10: `i * EAN_STRIDE mod 10^11` is a bijection, so EANs are unique but unordered. */
const EAN_STRIDE = 387_420_489;
const EAN_SPACE = 100_000_000_000;

/**
 * In which order the EANs of a file come: `file` ascending, as a catalog sorted by EAN (or by a
 * SKU that follows it) has them; `scrambled` in no order, which makes every index insert land on
 * a random page (of the import's products and of the `\copy` baseline's table alike).
 */
export type EanOrder = 'file' | 'scrambled';
export const EAN_ORDERS: readonly EanOrder[] = ['file', 'scrambled'];

/** Gap between two consecutive EANs of a `file`-ordered file (any gap keeps them ascending). */
const EAN_STEP = 7;

/**
 * The `index`-th EAN-13 of the file: prefix 4, 11 digits (scrambled or ascending with `order`),
 * GS1 check digit. `offset` moves the whole file to other EANs (independent files). Unique for
 * index + offset < 10^10.
 */
export function eanFor(index: number, order: EanOrder = 'scrambled', offset = 0): string {
  const at = index + offset;
  // at * stride stays below 2^53 for at < 2.3e7; beyond that fall back to BigInt.
  const digits =
    order === 'file'
      ? at * EAN_STEP
      : at < 20_000_000
        ? (at * EAN_STRIDE) % EAN_SPACE
        : Number((BigInt(at) * BigInt(EAN_STRIDE)) % BigInt(EAN_SPACE));
  const body = '4' + String(digits).padStart(11, '0');
  return body + String(gtinCheckDigit(body));
}

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

function description(random: () => number): string {
  const count = 4 + Math.floor(random() * 5);
  const words: string[] = [];
  for (let i = 0; i < count; i += 1) words.push(pick(random, WORDS));
  const text = words.join(' ');
  // Every 16th row needs CSV quoting: a comma, sometimes an embedded (doubled) quote.
  const roll = random();
  if (roll < 1 / 32) return `"${text}, ""${pick(random, WORDS)}"" edition"`;
  if (roll < 1 / 16) return `"${text}, ${pick(random, WORDS)}"`;
  return text;
}

/** How a file is made: the EAN order, where its EANs start, and which rows differ from the base file. */
export interface FileShape {
  order?: EanOrder;
  /** Added to every row's index for its EAN: files with different offsets share no EAN. */
  eanOffset?: number;
  /** Every `changeEvery`-th row (from the first) gets another stock than the same seed gives: a changed product. */
  changeEvery?: number;
  /** Every name quoted around a delimiter and doubled quotes: `"Eco Toaster 123, ""boxed"""`. */
  quoteNames?: boolean;
}

/** One CSV line (with its newline) of product `index`. */
export function productLine(index: number, random: () => number, shape: FileShape = {}): string {
  const cents = Math.floor(random() * 100_000);
  const price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
  const name = `${pick(random, ADJECTIVES)} ${pick(random, NOUNS)} ${100 + Math.floor(random() * 900)}`;
  let stock = Math.floor(random() * 1000);
  // Changed after every draw, so that the other rows stay those of the base file.
  const nameCell = shape.quoteNames ? `"${name}, ""boxed"""` : name;
  const text = `${nameCell},${pick(random, BRANDS)},${pick(random, CATEGORIES)},${description(random)},${price},EUR`;
  if (shape.changeEvery && index % shape.changeEvery === 0) stock += 1000;
  return `${eanFor(index, shape.order, shape.eanOffset)},${text},${stock}\n`;
}

export const CSV_HEADER = 'ean,name,brand,category,description,price,currency,stock\n';

/**
 * Writes a deterministic product CSV of `rows` data rows to `path`, streaming in ~256 KiB writes
 * with backpressure (the file is never held in memory). Returns its size in bytes.
 */
export async function generateProductCsv(path: string, rows: number, seed = 20_240_601, shape: FileShape = {}): Promise<number> {
  const random = mulberry32(seed);
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let chunk = CSV_HEADER;
  for (let index = 0; index < rows; index += 1) {
    chunk += productLine(index, random, shape);
    if (chunk.length >= 256 * 1024) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await finished(out);
  return (await stat(path)).size;
}
