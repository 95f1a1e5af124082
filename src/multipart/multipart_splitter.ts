/**
 * The multipart splitter as Web `TransformStream`s: bytes in, and either
 * part events out (each part's head, its body in pieces, its end: the form
 * the client reads every answer with, memory bounded by the window) or
 * complete parts (assembled from those events).
 *
 * @module
 */

import {
  MultipartParser,
  type MultipartParserOptions,
  type MultipartPart,
  type MultipartPartHead,
  type MultipartPieceHandler,
} from "./multipart_parser.ts";
import { concatBytes } from "../_bytes.ts";

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
 * Options of {@linkcode MultipartEventSplitter}.
 *
 * @example Count the body bytes as they come in
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   MultipartEventSplitter,
 *   type MultipartEventSplitterOptions,
 * } from "./multipart_splitter.ts";
 *
 * let received = 0;
 * const options: MultipartEventSplitterOptions = {
 *   onChunk: (chunk) => received += chunk.length,
 * };
 * const text = "--b\r\n\r\nhello\r\n--b--";
 * const events = await Array.fromAsync(
 *   new Response(text).body!.pipeThrough(new MultipartEventSplitter("b", options)),
 * );
 * assert.equal(received, text.length);
 * assert.deepEqual(events.map((e) => e.kind), ["head", "body", "end"]);
 * ```
 */
export interface MultipartEventSplitterOptions extends MultipartParserOptions {
  /** Called with every input chunk before it is split (to count bytes). */
  onChunk?: (chunk: Uint8Array) => void;
}

/**
 * One event of a streamed multipart body: a part's head, the next piece of
 * its body, or its end (`last` when the closing delimiter followed).
 *
 * @example Reassemble the parts from the events
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type MultipartEvent,
 *   MultipartEventSplitter,
 * } from "./multipart_splitter.ts";
 *
 * const body = new Response("--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--").body!;
 * const texts: string[] = [];
 * const decoder = new TextDecoder();
 * const events: MultipartEvent[] = await Array.fromAsync(
 *   body.pipeThrough(new MultipartEventSplitter("b")),
 * );
 * for (const event of events) {
 *   if (event.kind === "head") texts.push("");
 *   if (event.kind === "body") texts[texts.length - 1] += decoder.decode(event.bytes);
 * }
 * assert.deepEqual(texts, ["one", "two"]);
 * assert.deepEqual(events.at(-1), { kind: "end", size: 3, last: true });
 * ```
 */
export type MultipartEvent =
  | { readonly kind: "head"; readonly head: MultipartPartHead }
  | { readonly kind: "body"; readonly bytes: Uint8Array }
  | { readonly kind: "end"; readonly size: number; readonly last: boolean };

/** Room for a few chunks on each side, so reading and splitting overlap. */
const WRITABLE_CHUNKS = 4;
const READABLE_EVENTS = 16;

/**
 * Splits a multipart byte stream into events: each part's head, its body
 * in pieces as the bytes arrive, and its end. A part is never held whole,
 * so memory stays bounded by the window whatever the part size. This is
 * the stream every multipart answer of the client is read through.
 *
 * Chunks written to it are not copied before their bytes are handed on:
 * body pieces are views of them where possible (do not change a chunk
 * after writing it; a `fetch` body never does). The stream errors with
 * `TruncatedResponseError` when the body ends before its closing
 * delimiter, and a part without its `end` event is incomplete.
 *
 * @example Stream each part to its own destination
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartEventSplitter } from "./multipart_splitter.ts";
 *
 * const body = new Response(
 *   "--b\r\nContent-ID: <a>\r\n\r\nfirst\r\n--b\r\nContent-ID: <b>\r\n\r\nsecond\r\n--b--",
 * ).body!;
 * const sizes = new Map<string, number>();
 * let id = "";
 * for await (const event of body.pipeThrough(new MultipartEventSplitter("b"))) {
 *   if (event.kind === "head") id = event.head.headers.get("content-id")!;
 *   if (event.kind === "body") sizes.set(id, (sizes.get(id) ?? 0) + event.bytes.length);
 * }
 * assert.deepEqual([...sizes], [["<a>", 5], ["<b>", 6]]);
 * ```
 */
export class MultipartEventSplitter
  extends TransformStream<Uint8Array, MultipartEvent> {
  /**
   * Creates a splitter for one body.
   *
   * @param boundary The boundary from the Content-Type, without `--`.
   * @param options Engine, limits and a chunk observer.
   * @throws {MultipartSyntaxError} When the boundary is not valid.
   */
  constructor(boundary: string, options: MultipartEventSplitterOptions = {}) {
    const parser = new MultipartParser(boundary, options);
    const onChunk = options.onChunk;
    let out: TransformStreamDefaultController<MultipartEvent> | undefined;
    const handler: MultipartPieceHandler = {
      head: (head) => out!.enqueue({ kind: "head", head }),
      body: (bytes) => out!.enqueue({ kind: "body", bytes }),
      end: (size) => out!.enqueue({ kind: "end", size, last: parser.done }),
    };
    super(
      splitterTransformer(parser, (chunk, controller) => {
        onChunk?.(chunk);
        out = controller;
        parser.pushPieces(chunk, handler, true);
      }, READABLE_EVENTS),
      { highWaterMark: WRITABLE_CHUNKS },
      { highWaterMark: READABLE_EVENTS },
    );
  }
}

/**
 * Splits a `multipart/related` (or any MIME multipart) byte stream into its
 * parts. The stream errors with `TruncatedResponseError` when the body ends
 * before its closing delimiter: an incomplete part is never emitted.
 *
 * It is {@linkcode MultipartEventSplitter} with each part assembled into
 * one owned buffer; prefer the event form for large parts.
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
    let out: TransformStreamDefaultController<MultipartPart> | undefined;
    let head: MultipartPartHead | undefined;
    let pieces: Uint8Array[] = [];
    const handler: MultipartPieceHandler = {
      head: (h) => {
        head = h;
        pieces = [];
      },
      body: (bytes) => pieces.push(bytes),
      end: (size) => {
        out!.enqueue({ ...head!, body: concatBytes(pieces, size) });
        pieces = [];
      },
    };
    super(
      splitterTransformer(parser, (chunk, controller) => {
        out = controller;
        parser.pushPieces(chunk, handler, true);
      }, 0),
      { highWaterMark: WRITABLE_CHUNKS },
    );
  }
}

/**
 * The transformer of both splitters: the parser is disposed at the end.
 * When a chunk fails, the events it produced before the failure (a part
 * completed in the same chunk) are read before the stream errors: erroring
 * at once would drop them from the queue.
 */
function splitterTransformer<O>(
  parser: MultipartParser,
  push: (
    chunk: Uint8Array,
    controller: TransformStreamDefaultController<O>,
  ) => void,
  readableHighWaterMark: number,
): Transformer<Uint8Array, O> {
  let cancelled = false;
  const drainThenThrow = async (
    error: unknown,
    controller: TransformStreamDefaultController<O>,
  ): Promise<never> => {
    while (
      !cancelled &&
      (controller.desiredSize ?? readableHighWaterMark) < readableHighWaterMark
    ) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    throw error;
  };
  return {
    transform(chunk, controller) {
      try {
        push(chunk, controller);
      } catch (error) {
        parser[Symbol.dispose]();
        return drainThenThrow(error, controller);
      }
    },
    flush(controller) {
      try {
        parser.finish();
      } catch (error) {
        return drainThenThrow(error, controller);
      } finally {
        parser[Symbol.dispose]();
      }
    },
    cancel() {
      cancelled = true;
      parser[Symbol.dispose]();
    },
  };
}
