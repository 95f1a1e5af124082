/**
 * Content-ID normalisation (RFC 2392), so that an `xop:Include href` and the
 * `Content-ID` header of the part it points to compare equal whatever the
 * sender's quirks: CXF percent-encodes `:` in the href only, .NET encodes
 * `@` as `%40`, Axis2 leaves `:` unencoded, Vitrea omits the angle brackets.
 *
 * @module
 */

import { stripAngleBrackets } from "./content_type.ts";

/** One or more consecutive `%XX` escapes. */
const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/** Decodes one run of `%XX` escapes as UTF-8, or returns it unchanged. */
function decodeRun(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    // Not valid UTF-8 as a whole: decode what can be decoded, escape by escape.
    return run.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
      const code = parseInt(hex, 16);
      return code < 0x80 ? String.fromCharCode(code) : escape;
    });
  }
}

/**
 * Normalises a `Content-ID` header value (or a multipart `start` parameter):
 * trims it and strips one pair of enclosing angle brackets, if present.
 * The id itself stays case-sensitive and is not percent-decoded (RFC 2392:
 * the header carries the id unencoded).
 *
 * @param headerValue The raw header value, e.g. `<0d45-4@urn:ihe:iti:xds-b:2007>`.
 * @returns The bare id, e.g. `0d45-4@urn:ihe:iti:xds-b:2007`.
 *
 * @example Normalise a CXF Content-ID and a Vitrea one
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeContentId } from "./content_id.ts";
 *
 * assert.equal(normalizeContentId(" <1@cxf.apache.org> "), "1@cxf.apache.org");
 * assert.equal(normalizeContentId("1@vitrea"), "1@vitrea");
 * ```
 */
export function normalizeContentId(headerValue: string): string {
  return stripAngleBrackets(String(headerValue));
}

/**
 * Turns a `cid:` URL (the `href` of an `xop:Include`) into the bare
 * Content-ID it designates (RFC 2392): strips `cid:` (any case),
 * percent-decodes the rest as UTF-8 and strips optional angle brackets.
 * Malformed `%` sequences are left as they are, never thrown on; `+` stays
 * a plus sign (this is not form encoding).
 *
 * @param href The `href` value, e.g. `cid:0d45-4@urn%3Aihe%3Aiti%3Axds-b%3A2007`.
 * @returns The bare id, comparable with {@linkcode normalizeContentId}'s
 * result, e.g. `0d45-4@urn:ihe:iti:xds-b:2007`.
 *
 * @example Match a CXF href with its part header
 * ```ts
 * import assert from "node:assert/strict";
 * import { hrefToContentId, normalizeContentId } from "./content_id.ts";
 *
 * const fromHref = hrefToContentId("cid:0d45-4@urn%3Aihe%3Aiti%3Axds-b%3A2007");
 * const fromHeader = normalizeContentId("<0d45-4@urn:ihe:iti:xds-b:2007>");
 * assert.equal(fromHref, fromHeader);
 * assert.equal(hrefToContentId("cid:uuid-1%40wcf"), "uuid-1@wcf"); // .NET
 * ```
 */
export function hrefToContentId(href: string): string {
  let value = String(href).trim();
  if (/^cid:/i.test(value)) value = value.slice(4);
  value = value.replace(PERCENT_RUN, decodeRun).trim();
  return stripAngleBrackets(value);
}
