/**
 * The one chunk joiner.
 *
 * @module
 */

/**
 * Joins chunks into one new buffer of `length` bytes (later bytes dropped).
 *
 * @param chunks The chunks, in order.
 * @param length The length of the result.
 * @returns An owned buffer.
 */
export function concatBytes(
  chunks: readonly Uint8Array[],
  length: number,
): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, length - at);
    out.set(take === c.length ? c : c.subarray(0, take), at);
    at += take;
    if (at >= length) break;
  }
  return out;
}
