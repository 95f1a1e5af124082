/**
 * The multipart splitter as a Web `TransformStream`: bytes in, complete
 * parts out.
 *
 * @module
 */

import {
  MultipartParser,
  type MultipartParserOptions,
  type MultipartPart,
} from "./multipart_parser.ts";

/**
 * Options of {@linkcode MultipartSplitter}.
 *
 * @example Cap the part size of a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   LimitExceededError,
 *   MultipartSplitter,
 *   type MultipartSplitterOptions,
 * } from "@rad69/client";
 *
 * const options: MultipartSplitterOptions = { engine: "ts", maxPartSize: 4 };
 * const body = new Response("--b\r\n\r\ntoo long\r\n--b--").body!;
 * await assert.rejects(
 *   Array.fromAsync(body.pipeThrough(new MultipartSplitter("b", options))),
 *   LimitExceededError,
 * );
 * ```
 */
export type MultipartSplitterOptions = MultipartParserOptions;

/**
 * Splits a `multipart/related` (or any MIME multipart) byte stream into its
 * parts. The stream errors with `TruncatedResponseError` when the body ends
 * before its closing delimiter: an incomplete part is never emitted.
 *
 * @example Split a response body
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartSplitter } from "@rad69/client";
 *
 * const body = new Response(
 *   "preamble\r\n--b\r\nContent-ID: <1>\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--",
 * ).body!;
 * const parts = await Array.fromAsync(
 *   body.pipeThrough(new MultipartSplitter("b", { engine: "ts" })),
 * );
 * assert.equal(parts.length, 2);
 * assert.equal(parts[0]!.headers.get("content-id"), "<1>");
 * assert.equal(new TextDecoder().decode(parts[1]!.body), "two");
 * ```
 */
export class MultipartSplitter
  extends TransformStream<Uint8Array, MultipartPart> {
  /**
   * Creates a splitter for one body.
   *
   * @param boundary The boundary from the Content-Type, without `--`.
   * @param options Engine and limits.
   * @throws {MultipartSyntaxError} When the boundary is not valid.
   *
   * @example A body cut before its closing delimiter
   * ```ts
   * import assert from "node:assert/strict";
   * import { MultipartSplitter, TruncatedResponseError } from "@rad69/client";
   *
   * const body = new Response("--b\r\n\r\none\r\n--b\r\n\r\ntw").body!;
   * const parts: Uint8Array[] = [];
   * await assert.rejects(async () => {
   *   for await (const part of body.pipeThrough(new MultipartSplitter("b"))) {
   *     parts.push(part.body);
   *   }
   * }, TruncatedResponseError);
   * assert.equal(parts.length, 1); // the cut part is never emitted
   * ```
   */
  constructor(boundary: string, options: MultipartSplitterOptions = {}) {
    const parser = new MultipartParser(boundary, options);
    super({
      transform(chunk, controller) {
        try {
          parser.push(chunk, (part) => controller.enqueue(part));
        } catch (error) {
          parser[Symbol.dispose]();
          throw error;
        }
      },
      flush() {
        try {
          parser.finish();
        } finally {
          parser[Symbol.dispose]();
        }
      },
      cancel() {
        parser[Symbol.dispose]();
      },
    });
  }
}
