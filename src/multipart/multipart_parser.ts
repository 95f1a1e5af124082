/**
 * The push-based MIME multipart parser at the heart of the splitter. It owns
 * one reusable window (from a {@linkcode ScanEngine}), copies each chunk into
 * it once, searches it for the delimiter and copies each complete part body
 * out once.
 *
 * @module
 */

import {
  LimitExceededError,
  MultipartSyntaxError,
  TruncatedResponseError,
} from "../errors.ts";
import { assertBoundary } from "./content_type.ts";
import { parsePartHeaders } from "./part_headers.ts";
import type { ScanEngine } from "./scan_engine.ts";
import { createScanEngine, type ScanEngineKind } from "./engines.ts";

/**
 * One complete part of a multipart body.
 *
 * @example Where each part is
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MultipartPart } from "@rad69/client";
 * import { MultipartParser } from "./multipart_parser.ts";
 *
 * const text = "--b\r\nContent-ID: <root>\r\n\r\n<xml/>\r\n--b\r\n\r\ndata\r\n--b--";
 * using parser = new MultipartParser("b", { engine: "ts" });
 * const parts: MultipartPart[] = [];
 * parser.push(new TextEncoder().encode(text), (part) => parts.push(part));
 * parser.finish();
 * assert.deepEqual(parts.map((p) => p.index), [0, 1]);
 * assert.equal(parts[0]!.headers.get("content-id"), "<root>");
 * assert.equal(text.slice(parts[1]!.offset, parts[1]!.offset + 4), "data");
 * ```
 */
export interface MultipartPart {
  /** 0-based position of the part in the body. */
  readonly index: number;
  /** The part's header fields (names are case-insensitive). */
  readonly headers: Headers;
  /** The part body: an owned copy, exactly the bytes between delimiters. */
  readonly body: Uint8Array;
  /** Byte offset of the part body in the whole multipart body. */
  readonly offset: number;
}

/**
 * Where a part is and what its headers say: what is known once its header
 * section was read, before its body.
 *
 * @example The head of each part, from the streamed form
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartParser, type MultipartPartHead } from "./multipart_parser.ts";
 *
 * const text = "--b\r\nContent-ID: <root>\r\n\r\n<xml/>\r\n--b--";
 * using parser = new MultipartParser("b", { engine: "ts" });
 * const heads: MultipartPartHead[] = [];
 * parser.pushPieces(new TextEncoder().encode(text), {
 *   head: (head) => heads.push(head),
 *   body: () => {},
 *   end: () => {},
 * });
 * assert.equal(heads[0]!.headers.get("content-id"), "<root>");
 * assert.equal(heads[0]!.offset, text.indexOf("<xml/>"));
 * ```
 */
export interface MultipartPartHead {
  /** 0-based position of the part in the body. */
  readonly index: number;
  /** The part's header fields (names are case-insensitive). */
  readonly headers: Headers;
  /** Byte offset of the part body in the whole multipart body. */
  readonly offset: number;
}

/**
 * What {@linkcode MultipartParser.pushPieces} calls: each part's head, its
 * body in pieces as the bytes arrive, then its end. A part's body is never
 * held whole by the parser, so memory does not grow with the part size.
 *
 * @example Count the bytes of each part without holding them
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartParser, type MultipartPieceHandler } from "./multipart_parser.ts";
 *
 * const sizes: number[] = [];
 * let size = 0;
 * const handler: MultipartPieceHandler = {
 *   head: () => size = 0,
 *   body: (bytes) => size += bytes.length,
 *   end: (total) => sizes.push(total === size ? total : -1),
 * };
 * const body = new TextEncoder().encode("--b\r\n\r\none\r\n--b\r\n\r\ntwo!\r\n--b--");
 * using parser = new MultipartParser("b");
 * for (let i = 0; i < body.length; i += 3) {
 *   parser.pushPieces(body.subarray(i, i + 3), handler);
 * }
 * parser.finish();
 * assert.deepEqual(sizes, [3, 4]);
 * ```
 */
export interface MultipartPieceHandler {
  /** A part's header section was read; its body follows. */
  head(head: MultipartPartHead): void;
  /**
   * The next bytes of the current part's body (never empty). A view of an
   * owned input chunk, or a copy: it stays valid after the call.
   */
  body(bytes: Uint8Array): void;
  /** The current part ended complete, after `size` body bytes. */
  end(size: number): void;
}

/**
 * Options of {@linkcode MultipartParser} and `MultipartSplitter`.
 *
 * @example A larger cap for the root part only
 * ```ts
 * import assert from "node:assert/strict";
 * import { LimitExceededError } from "@rad69/client";
 * import { MultipartParser, type MultipartParserOptions } from "./multipart_parser.ts";
 *
 * const options: MultipartParserOptions = {
 *   engine: "ts",
 *   maxPartSize: (_headers, index) => index === 0 ? 1024 : 4,
 *   maxHeaderCount: 8,
 * };
 * using parser = new MultipartParser("b", options);
 * const body = "--b\r\n\r\nroot part\r\n--b\r\n\r\ntoo long\r\n--b--";
 * const sizes: number[] = [];
 * assert.throws(
 *   () =>
 *     parser.push(new TextEncoder().encode(body), (p) => sizes.push(p.body.length)),
 *   LimitExceededError,
 * );
 * assert.deepEqual(sizes, [9]); // the root part passed
 * ```
 */
export interface MultipartParserOptions {
  /**
   * The delimiter search engine: `"wasm"` (SIMD, the default), `"ts"` (pure
   * TypeScript), or an engine instance (which the parser then owns and
   * disposes).
   *
   * @default {"wasm"}
   */
  engine?: ScanEngineKind | ScanEngine;
  /**
   * The largest part body accepted, in bytes, or a function of the part's
   * headers and index that gives it (to cap the SOAP root part differently).
   *
   * @default {68719476736}
   */
  maxPartSize?: number | ((headers: Headers, index: number) => number);
  /**
   * The largest header section of one part, in bytes.
   *
   * @default {16384}
   */
  maxHeaderBytes?: number;
  /**
   * The most header fields in one part.
   *
   * @default {64}
   */
  maxHeaderCount?: number;
  /**
   * Initial window size in bytes (grows when a part does not fit).
   *
   * @default {5242880}
   */
  windowSize?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
/** How much transport padding after a boundary is tolerated. */
const MAX_PADDING = 256;
/** How many leading bytes of the body are kept for an error message. */
const HEAD_BYTES = 64;

function isSpace(byte: number): boolean {
  return byte === SPACE || byte === TAB || byte === CR || byte === LF;
}

enum State {
  Preamble,
  Headers,
  Body,
  Epilogue,
}

/**
 * A push-based multipart parser. Feed it chunks with `push`, which calls
 * back with every complete part (held in the window until complete), or
 * with `pushPieces`, which calls back with each part's head, body pieces
 * and end as the bytes arrive (the window then holds only what may still
 * be a delimiter, whatever the part size). One parser uses one of the two.
 * `finish` checks that the closing delimiter came.
 *
 * Splitting is on `CRLF--boundary` only (a body may hold `--boundary` after a
 * bare LF, or boundary look-alikes, without being cut). The first delimiter
 * may come without the leading CRLF, and a preamble and an epilogue are
 * ignored. When the first delimiter line ends in a bare LF, the body is taken
 * to use LF-only line endings and later delimiters are `LF--boundary`.
 *
 * @example Split a small body
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartParser } from "./multipart_parser.ts";
 *
 * const body = new TextEncoder().encode(
 *   "--b\r\nContent-ID: <1>\r\n\r\nhello\r\n--b--\r\n",
 * );
 * using parser = new MultipartParser("b", { engine: "ts" });
 * const parts: string[] = [];
 * parser.push(body, (part) => parts.push(new TextDecoder().decode(part.body)));
 * parser.finish();
 * assert.deepEqual(parts, ["hello"]);
 * assert.ok(parser.done);
 * ```
 */
export class MultipartParser implements Disposable {
  #engine: ScanEngine;
  #dashBoundary: Uint8Array;
  #crlfDelimiter: Uint8Array;
  #lfDelimiter: Uint8Array;
  #needleLength: number;
  #needle: Uint8Array;
  #maxPartSize: number | ((headers: Headers, index: number) => number);
  #maxHeaderBytes: number;
  #maxHeaderCount: number;
  #len = 0;
  #base = 0;
  #state: State = State.Preamble;
  #scanFrom = 0;
  #partStart = 0;
  #bodyStart = 0;
  /** Absolute offset of the current part's body. */
  #bodyOffset = 0;
  /** Body bytes of the current part already handed out (pieces mode). */
  #bodyEmitted = 0;
  #headers: Headers = new Headers();
  #partLimit = 0;
  #index = 0;
  #disposed = false;
  #boundary: string;
  /** 0 until the first push, then 1 (whole parts) or 2 (pieces). */
  #mode: 0 | 1 | 2 = 0;
  /** The handler of the `pushPieces` call under way. */
  #pieces: MultipartPieceHandler | undefined;
  /** The owned chunk of the `pushPieces` call under way, if owned. */
  #chunk: Uint8Array | undefined;
  /** Where that chunk starts in the window. */
  #chunkAt = 0;
  /** The first bytes of the body, for the message of a body without parts. */
  #head: Uint8Array = new Uint8Array(HEAD_BYTES);
  #headLength = 0;
  /** Absolute offset of the first byte that is not white space, or -1. */
  #firstContent = -1;
  /** Whether `--boundary` occurred anywhere in the preamble. */
  #sawDashBoundary = false;

  /**
   * Creates a parser for one multipart body.
   *
   * @param boundary The boundary from the Content-Type (without `--`).
   * @param options Engine and limits.
   * @throws {MultipartSyntaxError} When the boundary is empty, longer than
   * 70 characters, or holds control characters.
   *
   * @example Cap the part size
   * ```ts
   * import assert from "node:assert/strict";
   * import { LimitExceededError } from "@rad69/client";
   * import { MultipartParser } from "./multipart_parser.ts";
   *
   * using parser = new MultipartParser("b", { maxPartSize: 4 });
   * const body = new TextEncoder().encode("--b\r\n\r\ntoo long\r\n--b--");
   * assert.throws(() => parser.push(body, () => {}), LimitExceededError);
   * ```
   */
  constructor(boundary: string, options: MultipartParserOptions = {}) {
    assertBoundary(boundary);
    this.#boundary = boundary;
    const enc = new TextEncoder();
    this.#dashBoundary = enc.encode(`--${boundary}`);
    this.#crlfDelimiter = enc.encode(`\r\n--${boundary}`);
    this.#lfDelimiter = enc.encode(`\n--${boundary}`);
    this.#maxPartSize = options.maxPartSize ?? 2 ** 36;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 16384;
    this.#maxHeaderCount = options.maxHeaderCount ?? 64;
    const engine = options.engine ?? "wasm";
    this.#engine = typeof engine === "string"
      ? createScanEngine(engine)
      : engine;
    this.#engine.reserve(Math.max(1024, options.windowSize ?? 5 * 2 ** 20), 0);
    this.#engine.setNeedle(this.#dashBoundary);
    this.#needle = this.#dashBoundary;
    this.#needleLength = this.#dashBoundary.length;
  }

  /** Which engine kind scans for delimiters. */
  get engineKind(): "ts" | "wasm" {
    return this.#engine.kind;
  }

  /** `true` once the closing delimiter has been seen. */
  get done(): boolean {
    return this.#state === State.Epilogue;
  }

  /** How many parts have been emitted. */
  get partCount(): number {
    return this.#index;
  }

  /**
   * The size of the window in bytes: what the parser holds, whatever the
   * size of the parts when fed with `pushPieces`.
   */
  get windowLength(): number {
    return this.#engine.window.length;
  }

  /**
   * Feeds the next chunk. The chunk is copied before `push` returns, so the
   * caller may reuse its buffer.
   *
   * @param chunk The next bytes of the body.
   * @param onPart Called with each part completed by these bytes.
   * @throws {MultipartSyntaxError} On malformed part headers.
   * @throws {LimitExceededError} When a part or header section is too big.
   * @throws {TypeError} When the parser was disposed, or was fed with
   * `pushPieces`.
   *
   * @example Feed a body one byte at a time
   * ```ts
   * import assert from "node:assert/strict";
   * import { MultipartParser } from "./multipart_parser.ts";
   *
   * const body = new TextEncoder().encode(
   *   "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--",
   * );
   * using parser = new MultipartParser("b");
   * const parts: string[] = [];
   * for (let i = 0; i < body.length; i++) {
   *   parser.push(body.subarray(i, i + 1), (part) => {
   *     parts.push(new TextDecoder().decode(part.body));
   *   });
   * }
   * parser.finish();
   * assert.deepEqual(parts, ["one", "two"]);
   * assert.equal(parser.partCount, 2);
   * ```
   */
  push(chunk: Uint8Array, onPart: (part: MultipartPart) => void): void {
    if (!this.#accept(chunk, 1)) return;
    this.#copyIn(chunk, false);
    this.#run(onPart);
  }

  /**
   * Feeds the next chunk and hands out each part as it streams: its head,
   * its body in pieces, its end. The window keeps only the bytes that may
   * still start a delimiter (or a header section), so memory stays bounded
   * by the window whatever the part size.
   *
   * @param chunk The next bytes of the body.
   * @param handler Called with the heads, pieces and ends these bytes make.
   * @param owned `true` when the caller never changes `chunk` afterwards:
   * pieces are then views of it (no copy). Otherwise pieces are copies.
   * @throws {MultipartSyntaxError} On malformed part headers.
   * @throws {LimitExceededError} When a part or header section is too big.
   * @throws {TypeError} When the parser was disposed, or was fed with
   * `push`.
   *
   * @example Write each part to its own sink as it arrives
   * ```ts
   * import assert from "node:assert/strict";
   * import { MultipartParser } from "./multipart_parser.ts";
   *
   * const body = new TextEncoder().encode(
   *   "--b\r\nContent-ID: <a>\r\n\r\nfirst\r\n--b\r\n\r\nsecond\r\n--b--",
   * );
   * using parser = new MultipartParser("b", { windowSize: 1024 });
   * const out: string[] = [];
   * const decoder = new TextDecoder();
   * parser.pushPieces(body, {
   *   head: (head) => out.push(`${head.index}:`),
   *   body: (bytes) => out[out.length - 1] += decoder.decode(bytes),
   *   end: (size) => out[out.length - 1] += `(${size})`,
   * }, true);
   * parser.finish();
   * assert.deepEqual(out, ["0:first(5)", "1:second(6)"]);
   * ```
   */
  pushPieces(
    chunk: Uint8Array,
    handler: MultipartPieceHandler,
    owned = false,
  ): void {
    if (!this.#accept(chunk, 2)) return;
    this.#copyIn(chunk, true);
    this.#pieces = handler;
    if (owned) {
      this.#chunk = chunk;
      this.#chunkAt = this.#len - chunk.length;
    }
    try {
      this.#run(() => {});
    } finally {
      this.#pieces = undefined;
      this.#chunk = undefined;
    }
  }

  /**
   * Ends the body.
   *
   * @throws {TruncatedResponseError} When the closing delimiter never came;
   * the incomplete part is not delivered.
   * @throws {MultipartSyntaxError} When the body ended without ever holding
   * `--boundary`, and is not just white space and the start of the first
   * delimiter: it is not the multipart body its Content-Type announced.
   *
   * @example Detect a body cut in its second part
   * ```ts
   * import assert from "node:assert/strict";
   * import { TruncatedResponseError } from "@rad69/client";
   * import { MultipartParser } from "./multipart_parser.ts";
   *
   * using parser = new MultipartParser("b");
   * const parts: Uint8Array[] = [];
   * const cut = new TextEncoder().encode("--b\r\n\r\none\r\n--b\r\n\r\ntw");
   * parser.push(cut, (part) => parts.push(part.body));
   * assert.throws(() => parser.finish(), TruncatedResponseError);
   * assert.equal(parts.length, 1); // "tw" is never delivered
   * ```
   */
  finish(): void {
    if (this.#state === State.Preamble && this.#isNotMultipart()) {
      const head = new TextDecoder("latin1").decode(
        this.#head.subarray(0, this.#headLength),
      );
      throw new MultipartSyntaxError(
        `Cannot split multipart body: it holds no delimiter "--${this.#boundary}" in its ${
          this.#base + this.#len
        } bytes; it starts with ${JSON.stringify(head)}`,
        0,
      );
    }
    if (this.#state !== State.Epilogue) {
      const where = this.#state === State.Preamble
        ? "before its first boundary"
        : `inside part ${this.#index + 1}`;
      throw new TruncatedResponseError(
        `Multipart body ended ${where}, at byte ${
          this.#base + this.#len
        }, without its closing delimiter`,
      );
    }
  }

  /**
   * Releases the window (and the engine). Idempotent; `push` throws after.
   *
   * @example Dispose of a parser with `using`
   * ```ts
   * import assert from "node:assert/strict";
   * import { MultipartParser } from "./multipart_parser.ts";
   *
   * const parser = new MultipartParser("b", { engine: "wasm" });
   * {
   *   using _ = parser;
   *   assert.equal(parser.engineKind, "wasm");
   * } // disposed here
   * assert.throws(() => parser.push(new Uint8Array(1), () => {}), TypeError);
   * ```
   */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#engine[Symbol.dispose]();
  }

  /** Checks the call; `false` when there is nothing to do. */
  #accept(chunk: Uint8Array, mode: 1 | 2): boolean {
    if (this.#disposed) throw new TypeError("Cannot push: parser is disposed");
    if (this.#mode !== mode) {
      if (this.#mode !== 0) {
        throw new TypeError(
          "Cannot mix push() and pushPieces() on one parser",
        );
      }
      this.#mode = mode;
    }
    if (this.#state === State.Epilogue || chunk.length === 0) return false;
    if (this.#state === State.Preamble) this.#notePreamble(chunk);
    return true;
  }

  /**
   * Copies the chunk into the window. In pieces mode the kept bytes are
   * moved to the front at every call (they are few), so the window's hot
   * region stays the size of one chunk.
   */
  #copyIn(chunk: Uint8Array, compact: boolean): void {
    // The window is read from the engine each time: another engine may have
    // grown shared wasm memory since the last call.
    if (compact || this.#len + chunk.length > this.#engine.window.length) {
      this.#makeRoom(chunk);
    }
    this.#engine.window.set(chunk, this.#len);
    this.#len += chunk.length;
  }

  /** Records the first bytes and the first non-space byte of the body. */
  #notePreamble(chunk: Uint8Array): void {
    if (this.#headLength < HEAD_BYTES) {
      const take = Math.min(HEAD_BYTES - this.#headLength, chunk.length);
      this.#head.set(chunk.subarray(0, take), this.#headLength);
      this.#headLength += take;
    }
    if (this.#firstContent >= 0) return;
    for (let i = 0; i < chunk.length; i++) {
      if (!isSpace(chunk[i]!)) {
        this.#firstContent = this.#base + this.#len + i;
        return;
      }
    }
  }

  /**
   * Whether a body that ended in its preamble is something else than a
   * multipart body: it never held `--boundary`, and what it holds besides
   * leading white space is not the start of `--boundary` (a body cut short
   * before its first delimiter was complete).
   */
  #isNotMultipart(): boolean {
    if (this.#sawDashBoundary || this.#firstContent < 0) return false;
    const start = this.#firstContent - this.#base;
    const length = this.#base + this.#len - this.#firstContent;
    if (start < 0 || length >= this.#dashBoundary.length) return true;
    const window = this.#engine.window;
    for (let i = 0; i < length; i++) {
      if (window[start + i] !== this.#dashBoundary[i]) return true;
    }
    return false;
  }

  #keepFrom(): number {
    switch (this.#state) {
      case State.Preamble:
        return Math.max(0, this.#scanFrom - 1);
      case State.Headers:
        return this.#partStart;
      case State.Body:
        return Math.min(this.#bodyStart, this.#scanFrom);
      default:
        return this.#len;
    }
  }

  #makeRoom(chunk: Uint8Array): void {
    const keep = this.#keepFrom();
    if (keep > 0) {
      this.#engine.window.copyWithin(0, keep, this.#len);
      this.#len -= keep;
      this.#base += keep;
      this.#scanFrom -= keep;
      this.#partStart -= keep;
      this.#bodyStart -= keep;
    }
    const needed = this.#len + chunk.length;
    const size = this.#engine.window.length;
    if (needed > size) {
      this.#engine.reserve(
        Math.max(needed, Math.min(size * 2, needed + 2 ** 26)),
        this.#len,
      );
    }
  }

  #setNeedle(needle: Uint8Array): void {
    this.#engine.setNeedle(needle);
    this.#needle = needle;
    this.#needleLength = needle.length;
  }

  #run(onPart: (part: MultipartPart) => void): void {
    for (;;) {
      // A live view, re-read after every callback (never kept in a field:
      // wasm memory growth detaches it).
      const w = this.#engine.window;
      switch (this.#state) {
        case State.Preamble:
          if (!this.#preamble(w)) return;
          break;
        case State.Headers:
          if (!this.#headerSection(w)) return;
          break;
        case State.Body:
          if (!this.#body(w, onPart)) return;
          break;
        default:
          return;
      }
    }
  }

  /**
   * Reads what follows a boundary at `at`: `--` (close), or optional
   * padding then a line end. Returns the index after the line end, -2 for a
   * close delimiter, -1 when more bytes are needed, -3 when it is not a
   * delimiter line.
   */
  #afterBoundary(w: Uint8Array, at: number): number {
    const len = this.#len;
    if (at >= len) return -1;
    if (w[at] === DASH) {
      if (at + 1 >= len) return -1;
      if (w[at + 1] === DASH) return -2;
    }
    let i = at;
    while (i < len && (w[i] === SPACE || w[i] === TAB)) {
      if (i - at > MAX_PADDING) return -3;
      i++;
    }
    if (i >= len) return -1;
    if (w[i] === LF) return i + 1;
    if (w[i] === CR) {
      if (i + 1 >= len) return -1;
      return w[i + 1] === LF ? i + 2 : -3;
    }
    return -3;
  }

  #preamble(w: Uint8Array): boolean {
    for (;;) {
      const i = this.#engine.find(this.#scanFrom, this.#len);
      if (i < 0) {
        this.#scanFrom = Math.max(0, this.#len - this.#needleLength + 1);
        return false;
      }
      this.#sawDashBoundary = true;
      const atLineStart = (this.#base + i === 0) || (i > 0 && w[i - 1] === LF);
      if (!atLineStart) {
        this.#scanFrom = i + 1;
        continue;
      }
      const next = this.#afterBoundary(w, i + this.#needleLength);
      if (next === -1) {
        this.#scanFrom = i;
        return false;
      }
      if (next === -3) {
        this.#scanFrom = i + 1;
        continue;
      }
      if (next === -2) {
        this.#state = State.Epilogue;
        return false;
      }
      const lfOnly = w[next - 2] !== CR;
      this.#setNeedle(lfOnly ? this.#lfDelimiter : this.#crlfDelimiter);
      this.#state = State.Headers;
      this.#partStart = next;
      this.#scanFrom = next;
      return true;
    }
  }

  #headerSection(w: Uint8Array): boolean {
    const start = this.#partStart;
    const len = this.#len;
    // An empty part: a delimiter follows at once.
    const n = this.#needleLength;
    if (len - start >= n) {
      if (this.#engine.find(start, start + n) === start) {
        const next = this.#afterBoundary(w, start + n);
        if (next === -1) return false;
        if (next !== -3) {
          this.#headers = new Headers();
          this.#beginBody(start);
          return true;
        }
        // `CRLF--boundary` then other bytes: an empty header section.
      }
    } else if (this.#isNeedlePrefix(w, start, len)) {
      return false; // Too few bytes to tell an empty part from headers.
    }
    const [end, bodyStart] = this.#headerEnd(w, start, len);
    if (end < 0) {
      // The section will end at `len - 1` at the earliest (the last byte
      // may be the LF that starts the blank line): fail only when that is
      // already too long, so the outcome does not depend on the chunking.
      if (len - 1 - start > this.#maxHeaderBytes) this.#headersTooBig(start);
      if (this.#scanFrom < start) this.#scanFrom = start;
      return false;
    }
    if (end - start > this.#maxHeaderBytes) this.#headersTooBig(start);
    this.#headers = parsePartHeaders(
      w.subarray(start, end),
      this.#base + start,
      this.#maxHeaderCount,
    );
    this.#beginBody(bodyStart);
    return true;
  }

  /**
   * Finds the blank line that ends the header section starting at `start`:
   * `[end, bodyStart]`, or `[-1, -1]` when more bytes are needed.
   */
  #headerEnd(w: Uint8Array, start: number, len: number): [number, number] {
    if (w[start] === LF) return [start, start + 1];
    if (w[start] === CR && start + 1 < len && w[start + 1] === LF) {
      return [start, start + 2];
    }
    if (w[start] === CR && start + 1 >= len) return [-1, -1];
    for (let i = Math.max(start, this.#scanFrom); i < len; i++) {
      if (w[i] !== LF) continue;
      if (i + 1 >= len) {
        this.#scanFrom = i;
        break;
      }
      if (w[i + 1] === LF) return [i + 1, i + 2];
      if (w[i + 1] === CR) {
        if (i + 2 >= len) {
          this.#scanFrom = i;
          break;
        }
        if (w[i + 2] === LF) return [i + 1, i + 3];
      }
      this.#scanFrom = i + 1;
    }
    return [-1, -1];
  }

  #headersTooBig(start: number): never {
    throw new LimitExceededError(
      "maxHeaderBytes",
      this.#maxHeaderBytes,
      `Header section of part ${this.#index + 1} at byte ${this.#base + start}`,
    );
  }

  #isNeedlePrefix(w: Uint8Array, from: number, to: number): boolean {
    const needle = this.#needle;
    for (let i = from; i < to; i++) {
      if (w[i] !== needle[i - from]) return false;
    }
    return true;
  }

  #beginBody(bodyStart: number): void {
    const limit = this.#maxPartSize;
    this.#partLimit = typeof limit === "function"
      ? limit(this.#headers, this.#index)
      : limit;
    this.#state = State.Body;
    this.#bodyStart = bodyStart;
    this.#bodyOffset = this.#base + bodyStart;
    this.#bodyEmitted = 0;
    this.#scanFrom = bodyStart;
    this.#pieces?.head({
      index: this.#index,
      headers: this.#headers,
      offset: this.#bodyOffset,
    });
  }

  /** Fails when the current part, up to window index `at`, is too big. */
  #checkSize(at: number): void {
    if (this.#bodyEmitted + at - this.#bodyStart > this.#partLimit) {
      throw new LimitExceededError(
        "maxPartSize",
        this.#partLimit,
        `Part ${this.#index + 1} at byte ${this.#bodyOffset}`,
      );
    }
  }

  /**
   * Pieces mode: hands out the body bytes `[bodyStart, to)` of the window,
   * as views of the owned input chunk where they lie in it, else as copies.
   */
  #emit(w: Uint8Array, to: number): void {
    const pieces = this.#pieces;
    let from = this.#bodyStart;
    if (pieces === undefined || to <= from) return;
    this.#bodyEmitted += to - from;
    this.#bodyStart = to;
    const chunk = this.#chunk;
    const at = this.#chunkAt;
    if (chunk === undefined || to <= at) return pieces.body(w.slice(from, to));
    if (from < at) {
      pieces.body(w.slice(from, at));
      from = at;
    }
    pieces.body(chunk.subarray(from - at, to - at));
  }

  #body(w: Uint8Array, onPart: (part: MultipartPart) => void): boolean {
    for (;;) {
      const i = this.#engine.find(this.#scanFrom, this.#len);
      if (i < 0) {
        this.#scanFrom = Math.max(
          this.#bodyStart,
          this.#len - this.#needleLength + 1,
        );
        this.#checkSize(this.#scanFrom);
        this.#emit(w, this.#scanFrom);
        return false;
      }
      const next = this.#afterBoundary(w, i + this.#needleLength);
      if (next === -1) {
        // Whatever follows, the part is at least this long.
        this.#checkSize(i);
        this.#scanFrom = i;
        this.#emit(w, i);
        return false;
      }
      if (next === -3) {
        // `--boundary` followed by something else: part of the content.
        this.#scanFrom = i + 1;
        continue;
      }
      this.#checkSize(i);
      this.#state = next === -2 ? State.Epilogue : State.Headers;
      this.#partStart = next;
      this.#scanFrom = next;
      if (this.#pieces) {
        this.#emit(w, i);
        this.#index++;
        this.#pieces.end(this.#bodyEmitted);
      } else {
        onPart({
          index: this.#index++,
          headers: this.#headers,
          body: w.slice(this.#bodyStart, i),
          offset: this.#bodyOffset,
        });
      }
      return next !== -2;
    }
  }
}
