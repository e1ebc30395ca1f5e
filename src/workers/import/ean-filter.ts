import { hash } from './seen-eans.js';

/** A file's filter takes 1 byte per 64 bytes of file (about 12 bits an EAN for typical rows), within these bounds. */
const FILTER_BYTES_MIN = 64 << 10;
const FILTER_BYTES_MAX = 16 << 20;

/** The filter size for a file of `fileBytes`: a power of two from 64 KiB to 16 MiB. */
export function filterBytesFor(fileBytes: number): number {
  let bytes = FILTER_BYTES_MIN;
  while (bytes < FILTER_BYTES_MAX && bytes * 64 < fileBytes) bytes *= 2;
  return bytes;
}

/** Bits set per key; with 512-bit blocks and the default size, about 0.3% false "maybe" at 10M keys. */
const BITS_PER_KEY = 6;

/**
 * A blocked Bloom filter of EAN keys (see `eanKey`): for every EAN of a file, whether it was
 * certainly not seen before, or may have been. All bits of a key lie in one 64-byte block, so a
 * lookup touches one cache line. Its size is fixed whatever the number of keys: more keys only
 * make "may have been" come more often. The import writer uses it once a file has more EANs than
 * its table of seen EANs holds, and checks each "may have been" against the database.
 */
export class EanFilter {
  private readonly words: Uint32Array;
  private readonly blockMask: number;

  /** `bytes`: a power of two, at least 64 (one block). */
  constructor(bytes = 16 << 20) {
    if (bytes < 64 || (bytes & (bytes - 1)) !== 0) throw new RangeError(`filter size ${bytes} is not a power of two ≥ 64`);
    const blocks = bytes >>> 6;
    this.words = new Uint32Array(blocks * 16);
    this.blockMask = blocks - 1;
  }

  /** Adds `key`; returns true when it may have been added before, false when it certainly was not. */
  add(key: number): boolean {
    // Two independent hashes of the key: the block, and the bits within it.
    const h1 = hash(key);
    const h2 = mix(mix((key >>> 0) ^ 0x5bd1e995) ^ Math.imul((key / 4_294_967_296) >>> 0, 0x27d4eb2f));
    const h3 = mix(h2 ^ 0x165667b1);
    const base = (h1 & this.blockMask) << 4;
    let seen = true;
    for (let i = 0; i < BITS_PER_KEY; i += 1) {
      const bit = (i < 3 ? h2 >>> (9 * i) : h3 >>> (9 * (i - 3))) & 511;
      const word = base + (bit >>> 5);
      const mask = 1 << (bit & 31);
      if ((this.words[word]! & mask) === 0) {
        seen = false;
        this.words[word]! |= mask;
      }
    }
    return seen;
  }
}

/** murmur3's 32-bit finaliser. */
function mix(value: number): number {
  let h = Math.imul(value ^ (value >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
