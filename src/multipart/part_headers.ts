/**
 * Parsing of the header section of one MIME part.
 *
 * @module
 */

import { MultipartSyntaxError } from "../errors.ts";

const latin1 = new TextDecoder("latin1");

/**
 * Parses the header section of a MIME part (without the blank line that ends
 * it). Lines may end in CRLF or LF; folded lines are unfolded; header names
 * are case-insensitive.
 *
 * @param bytes The header section.
 * @param offset Byte offset of the section in the body, for error messages.
 * @param maxCount The most header fields accepted.
 * @returns The headers.
 * @throws {MultipartSyntaxError} When a line is not a header field, or there
 * are more than `maxCount` fields.
 *
 * @example Parse the headers of a document part
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartSyntaxError } from "@rad69/client";
 * import { parsePartHeaders } from "./part_headers.ts";
 *
 * const h = parsePartHeaders(
 *   new TextEncoder().encode("Content-Id: <a@b>\r\nContent-Type: application/dicom"),
 * );
 * assert.equal(h.get("content-id"), "<a@b>");
 * assert.equal(h.get("Content-Type"), "application/dicom");
 * const notHeaders = new TextEncoder().encode("no colon here");
 * assert.throws(() => parsePartHeaders(notHeaders, 120), MultipartSyntaxError);
 * ```
 */
export function parsePartHeaders(
  bytes: Uint8Array,
  offset = 0,
  maxCount = 64,
): Headers {
  const text = latin1.decode(bytes);
  const headers = new Headers();
  if (text.length === 0) return headers;
  const lines = text.split(/\r?\n/);
  let name = "";
  let value = "";
  let count = 0;
  let lineOffset = offset;
  const commit = () => {
    if (name === "") return;
    try {
      headers.append(name, value.trim());
    } catch (cause) {
      throw new MultipartSyntaxError(
        `Cannot parse part header "${name}": ${(cause as Error).message}`,
        offset,
      );
    }
    name = "";
    value = "";
  };
  for (const line of lines) {
    if (line === "") {
      lineOffset += 1;
      continue;
    }
    if ((line[0] === " " || line[0] === "\t") && name !== "") {
      value += " " + line.trim();
    } else {
      commit();
      const colon = line.indexOf(":");
      if (colon <= 0) {
        throw new MultipartSyntaxError(
          `Cannot parse part headers: line "${
            line.slice(0, 80)
          }" is not a header field`,
          lineOffset,
        );
      }
      if (++count > maxCount) {
        throw new MultipartSyntaxError(
          `Cannot parse part headers: more than ${maxCount} header fields`,
          lineOffset,
        );
      }
      name = line.slice(0, colon).trim();
      value = line.slice(colon + 1);
    }
    lineOffset += line.length + 1;
  }
  commit();
  return headers;
}
