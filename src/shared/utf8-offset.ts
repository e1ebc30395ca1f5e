import { isUtf8 } from 'node:buffer';

/**
 * Offset of the first invalid UTF-8 sequence in `data`, or -1 when it is all valid: the lead byte
 * of a sequence that breaks off or is malformed, or a continuation byte that no lead byte began (a
 * Windows-1252 “ or € sent as UTF-8). A character cut off at the end of `data` is invalid too.
 */
export function firstInvalidUtf8(data: Buffer): number {
  if (isUtf8(data)) return -1;
  // Slow path, taken once per refused text: binary-search the longest prefix without an invalid
  // sequence (a character cut off at the prefix's end is allowed: stream mode holds it back).
  let low = 0;
  let high = data.length;
  while (high - low > 1) {
    const middle = (low + high) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, middle), { stream: true });
      low = middle;
    } catch {
      high = middle;
    }
  }
  // Byte `low` is the first that cannot continue. When it falls inside a character begun by a lead
  // byte before it (0xE8 then 'm', or the overlong 0xE0 0x80), that lead byte starts the bad
  // sequence. Otherwise byte `low` is the bad one itself, also when it is a continuation byte
  // (0x80–0xBF) after a whole character: a Windows-1252 “ or € sent as UTF-8 is such a stray byte,
  // and the character before it is not at fault.
  let lead = low - 1;
  while (lead >= 0 && low - lead <= 3 && (data[lead]! & 0xc0) === 0x80) lead -= 1;
  if (lead >= 0 && data[lead]! >= 0xc0 && low - lead < utf8SequenceLength(data[lead]!)) return lead;
  return low;
}

/** Bytes of the UTF-8 character that lead byte `byte` begins. */
export function utf8SequenceLength(byte: number): number {
  return byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
}
