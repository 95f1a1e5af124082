/**
 * Strict base64 decoding shared by the SOAP parser (inline documents) and
 * the multipart reader (`Content-Transfer-Encoding: base64` parts).
 *
 * @module
 */

/**
 * Decodes standard base64 (white space allowed, padding optional).
 *
 * @param value The base64 text.
 * @returns The bytes, or `undefined` when the text is not valid base64.
 */
export function decodeBase64(value: string): Uint8Array | undefined {
  const compact = value.replace(/[ \t\r\n]+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  if (
    compact.includes("=") ? compact.length % 4 !== 0 : compact.length % 4 === 1
  ) {
    return undefined;
  }
  const fromBase64 = (Uint8Array as unknown as {
    fromBase64?: (s: string) => Uint8Array;
  }).fromBase64;
  try {
    if (fromBase64) return fromBase64(compact);
    const binary = atob(compact);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}
