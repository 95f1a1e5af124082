/**
 * Reading an HTTP answer before it is split: small bodies read whole under
 * a cap, excerpts for error messages, SOAP Faults at any status, and the
 * decoding of one part body.
 *
 * @module
 */

import {
  LimitExceededError,
  Rad69ProtocolError,
  type SoapFaultError,
} from "../errors.ts";
import { decodeBase64 } from "../_base64.ts";
import { parseMultipartContentType } from "../multipart/content_type.ts";
import { normalizeContentId } from "../multipart/content_id.ts";
import {
  MultipartParser,
  type MultipartPart,
} from "../multipart/multipart_parser.ts";
import { findSoapFault } from "../soap/response.ts";
import { CUT_MARK, cutText } from "../redact.ts";
import type { ExchangeWatchdog } from "./watchdog.ts";
import { concatBytes } from "../_bytes.ts";

/** How many bytes of a body go into an error's excerpt. */
export const EXCERPT_BYTES = 300;

/** The body of a part, decoded from its Content-Transfer-Encoding. */
export function decodePartBody(part: MultipartPart): Uint8Array {
  const cte = part.headers.get("content-transfer-encoding")?.trim()
    .toLowerCase();
  if (!cte || cte === "binary" || cte === "8bit" || cte === "7bit") {
    return part.body;
  }
  if (cte === "base64") {
    const text = new TextDecoder("latin1").decode(part.body);
    const bytes = decodeBase64(text);
    if (bytes === undefined) {
      throw new Rad69ProtocolError(
        `Part ${part.index + 1} is not valid base64`,
        { excerpt: cutText(text, EXCERPT_BYTES) },
      );
    }
    return bytes;
  }
  throw new Rad69ProtocolError(
    `Part ${
      part.index + 1
    } uses unsupported Content-Transfer-Encoding "${cte}"`,
  );
}

/**
 * The first bytes of a body as text, for an error message. A body cut
 * short ends with the cut mark, so that redaction also removes the prefix
 * of a secret the cut went through.
 */
export function excerptOf(bytes: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(0, EXCERPT_BYTES),
  );
  return bytes.length >= EXCERPT_BYTES
    ? text.replace(/\uFFFD+$/, "") + CUT_MARK
    : text;
}

/**
 * Reads a whole (small) body, up to `max` bytes, reporting each chunk to
 * the exchange (which re-arms the idle timer).
 */
export async function readCapped(
  response: Response,
  max: number,
  what: string,
  exchange: ExchangeWatchdog,
): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await exchange.read(reader.read());
      if (done) break;
      exchange.progress(value.length);
      total += value.length;
      if (total > max) {
        throw new LimitExceededError(
          "maxRootPartSize",
          max,
          `${what} (more than ${total} bytes)`,
        );
      }
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return concatBytes(chunks, total);
}

/** Reads the first bytes of a body for an error message, then drops it. */
export async function readExcerpt(
  response: Response,
  max = 65536,
): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch {
    // The excerpt is best effort.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return concatBytes(chunks, Math.min(total, max));
}

/** Whether an answer body looks like XML (by type or first bytes). */
export function looksLikeXml(
  contentType: string | null,
  bytes: Uint8Array,
): boolean {
  if (contentType && /xml/i.test(contentType)) return true;
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith("<");
}

/**
 * Looks for a SOAP Fault in the root part of a (CXF-style, one-part)
 * multipart error answer, from its first bytes. Never throws.
 */
export function faultInMultipart(
  excerpt: Uint8Array,
  contentType: string | null,
  status: number,
): SoapFaultError | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined;
  try {
    const ct = parseMultipartContentType(contentType);
    using parser = new MultipartParser(ct.boundary, {
      engine: "ts",
      windowSize: excerpt.length + 1024,
      maxPartSize: excerpt.length,
    });
    let root: MultipartPart | undefined;
    try {
      parser.push(excerpt, (part) => {
        if (isRootPart(ct.start, part.headers, part.index)) root ??= part;
      });
    } catch {
      // Best effort: a malformed answer has no Fault to find.
    }
    return root ? findSoapFault(root.body, status) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a part is the root (SOAP) part: the one `start` names, or the
 * first part when there is no `start` (RFC 2387).
 */
export function isRootPart(
  start: string | undefined,
  headers: Headers,
  index: number,
): boolean {
  if (start === undefined) return index === 0;
  const id = headers.get("content-id");
  return id !== null && normalizeContentId(id) === start;
}

/** Reads a `Retry-After` value (seconds or an HTTP date) as seconds. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}
