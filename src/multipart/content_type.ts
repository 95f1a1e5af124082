/**
 * Parsing of a `multipart/related` Content-Type header: media type, boundary,
 * `start` and `type` parameters.
 *
 * @module
 */

import { MultipartSyntaxError } from "../errors.ts";

/**
 * RFC 2046 §5.1.1: a boundary is 1 to 70 characters.
 *
 * @example Longer boundaries are refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartSyntaxError } from "@rad69/client";
 * import { assertBoundary, MAX_BOUNDARY_LENGTH } from "./content_type.ts";
 *
 * assertBoundary("b".repeat(MAX_BOUNDARY_LENGTH));
 * assert.throws(
 *   () => assertBoundary("b".repeat(MAX_BOUNDARY_LENGTH + 1)),
 *   MultipartSyntaxError,
 * );
 * ```
 */
export const MAX_BOUNDARY_LENGTH = 70;

/**
 * A parsed media type: essence and lower-cased parameter names.
 *
 * @example Read a parameter
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MediaType, parseMediaType } from "./content_type.ts";
 *
 * const media: MediaType = parseMediaType('text/XML; Charset="UTF-8"');
 * assert.equal(media.essence, "text/xml");
 * assert.equal(media.params.get("charset"), "UTF-8");
 * ```
 */
export interface MediaType {
  /** `type/subtype`, lower-cased. */
  readonly essence: string;
  /** Parameters by lower-cased name, values unquoted. */
  readonly params: ReadonlyMap<string, string>;
}

/**
 * The parameters of a `multipart/related` answer that matter here.
 *
 * @example A Vitrea (JavaMail) Content-Type, without start
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MultipartContentType, parseMultipartContentType } from "./content_type.ts";
 *
 * const ct: MultipartContentType = parseMultipartContentType(
 *   'multipart/related; boundary="----=_Part_0_1.2"; type="application/xop+xml"',
 * );
 * assert.equal(ct.essence, "multipart/related");
 * assert.equal(ct.boundary, "----=_Part_0_1.2");
 * assert.equal(ct.start, undefined); // the first part is the root
 * ```
 */
export interface MultipartContentType extends MediaType {
  /** The boundary, without the leading `--`. */
  readonly boundary: string;
  /** The Content-ID of the root part, normalised (no angle brackets). */
  readonly start?: string;
  /** The `type` parameter (e.g. `application/xop+xml`), when given. */
  readonly type?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a media type with parameters, tolerating what servers send: quoted
 * or bare values, any order, spaces around `=`, trailing `;`.
 *
 * @param value A Content-Type header value.
 * @returns The essence and the parameters.
 * @throws {MultipartSyntaxError} When the value has no `type/subtype`.
 *
 * @example Parse a sloppy Content-Type
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMediaType } from "./content_type.ts";
 *
 * const m = parseMediaType('Multipart/Related; Boundary = "uuid:1"; start=<r>;');
 * assert.equal(m.essence, "multipart/related");
 * assert.equal(m.params.get("boundary"), "uuid:1");
 * assert.equal(m.params.get("start"), "<r>");
 * ```
 */
export function parseMediaType(value: string): MediaType {
  let i = 0;
  const n = value.length;
  const skipSpace = () => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  skipSpace();
  const semi = value.indexOf(";", i);
  const essence = value.slice(i, semi === -1 ? n : semi).trim().toLowerCase();
  const slash = essence.indexOf("/");
  if (
    slash <= 0 || slash === essence.length - 1 ||
    !TOKEN.test(essence.slice(0, slash)) ||
    !TOKEN.test(essence.slice(slash + 1))
  ) {
    throw new MultipartSyntaxError(
      `Cannot parse Content-Type "${value}": expected type/subtype`,
    );
  }
  const params = new Map<string, string>();
  i = semi === -1 ? n : semi + 1;
  while (i < n) {
    skipSpace();
    if (value[i] === ";") {
      i++;
      continue;
    }
    let nameEnd = i;
    while (nameEnd < n && value[nameEnd] !== "=" && value[nameEnd] !== ";") {
      nameEnd++;
    }
    const name = value.slice(i, nameEnd).trim().toLowerCase();
    i = nameEnd;
    if (i >= n || value[i] === ";") {
      // A parameter without a value: ignore it.
      continue;
    }
    i++; // "="
    skipSpace();
    let paramValue = "";
    if (value[i] === '"') {
      i++;
      while (i < n && value[i] !== '"') {
        if (value[i] === "\\" && i + 1 < n) i++;
        paramValue += value[i];
        i++;
      }
      if (i >= n) {
        throw new MultipartSyntaxError(
          `Cannot parse Content-Type "${value}": unterminated quoted value of "${name}"`,
        );
      }
      i++; // closing quote
      while (i < n && value[i] !== ";") i++;
    } else {
      const end = value.indexOf(";", i);
      paramValue = value.slice(i, end === -1 ? n : end).trim();
      i = end === -1 ? n : end;
    }
    if (name !== "" && !params.has(name)) params.set(name, paramValue);
  }
  return { essence, params };
}

/**
 * Strips one pair of surrounding angle brackets and white space from a
 * Content-ID or a `start` parameter.
 *
 * @param value A Content-ID header value or `start` parameter.
 * @returns The bare id.
 *
 * @example Compare a `start` parameter with a Content-ID
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripAngleBrackets } from "./content_type.ts";
 *
 * assert.equal(stripAngleBrackets(" <root@x> "), "root@x");
 * assert.equal(stripAngleBrackets("root@x"), "root@x");
 * ```
 */
export function stripAngleBrackets(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith("<") && v.endsWith(">")) {
    return v.slice(1, -1).trim();
  }
  return v;
}

/**
 * Checks that a boundary follows RFC 2046 (1 to 70 characters, no trailing
 * space, only the characters the RFC allows).
 *
 * @param boundary The boundary, without the leading `--`.
 * @throws {MultipartSyntaxError} When it does not.
 *
 * @example Check a boundary before splitting
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartSyntaxError } from "@rad69/client";
 * import { assertBoundary } from "./content_type.ts";
 *
 * assertBoundary("uuid:0ca0f2a1-2f61-4b6c-9c2e-1c5f0b1b2c3d");
 * assert.throws(() => assertBoundary(""), MultipartSyntaxError);
 * assert.throws(() => assertBoundary("tab\there"), MultipartSyntaxError);
 * ```
 */
export function assertBoundary(boundary: string): void {
  if (boundary.length === 0) {
    throw new MultipartSyntaxError(
      "Cannot split multipart body: empty boundary",
    );
  }
  if (boundary.length > MAX_BOUNDARY_LENGTH) {
    throw new MultipartSyntaxError(
      `Cannot split multipart body: boundary is ${boundary.length} characters long (RFC 2046 allows at most ${MAX_BOUNDARY_LENGTH})`,
    );
  }
  // RFC 2046 bchars plus a few that real servers use; reject controls.
  for (let i = 0; i < boundary.length; i++) {
    const c = boundary.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new MultipartSyntaxError(
        `Cannot split multipart body: boundary "${boundary}" has a control or non-ASCII character at ${i}`,
      );
    }
  }
}

/**
 * Parses the Content-Type of a `multipart/related` answer.
 *
 * @param value The Content-Type header value.
 * @returns The boundary, the normalised `start` id and the `type`.
 * @throws {MultipartSyntaxError} When it is not multipart, or the boundary is
 * missing, empty or longer than 70 characters.
 *
 * @example Read a dcm4chee-arc (CXF) Content-Type
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMultipartContentType } from "./content_type.ts";
 *
 * const ct = parseMultipartContentType(
 *   'multipart/related; type="application/xop+xml"; boundary="uuid:42"; start="<root.message@cxf.apache.org>"',
 * );
 * assert.equal(ct.boundary, "uuid:42");
 * assert.equal(ct.start, "root.message@cxf.apache.org");
 * assert.equal(ct.type, "application/xop+xml");
 * ```
 */
export function parseMultipartContentType(
  value: string,
): MultipartContentType {
  const media = parseMediaType(value);
  if (!media.essence.startsWith("multipart/")) {
    throw new MultipartSyntaxError(
      `Cannot split body of type "${media.essence}": not multipart`,
    );
  }
  const boundary = media.params.get("boundary");
  if (boundary === undefined) {
    throw new MultipartSyntaxError(
      `Cannot split multipart body: Content-Type "${value}" has no boundary`,
    );
  }
  assertBoundary(boundary);
  const start = media.params.get("start");
  const type = media.params.get("type");
  const result: {
    essence: string;
    params: ReadonlyMap<string, string>;
    boundary: string;
    start?: string;
    type?: string;
  } = { ...media, boundary };
  if (start !== undefined && stripAngleBrackets(start) !== "") {
    result.start = stripAngleBrackets(start);
  }
  if (type !== undefined) result.type = type;
  return result;
}
