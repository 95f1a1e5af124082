/**
 * Reads an MTOM/XOP (multipart/related) answer: streams the body through
 * the splitter, finds the SOAP root part, matches binary parts to their
 * documents by Content-ID (RFC 2392; by order only when a server sends no
 * Content-IDs) and writes each part's bytes to its documents' sinks as
 * they arrive; a document is handed to the accounting as its part ends.
 *
 * @module
 */

import {
  LimitExceededError,
  Rad69Error,
  Rad69ProtocolError,
  TruncatedResponseError,
} from "../errors.ts";
import { parseMultipartContentType } from "../multipart/content_type.ts";
import { normalizeContentId } from "../multipart/content_id.ts";
import type {
  MultipartPart,
  MultipartPartHead,
} from "../multipart/multipart_parser.ts";
import {
  type MultipartEvent,
  MultipartEventSplitter,
} from "../multipart/multipart_splitter.ts";
import type { ExchangeConfig } from "../config.ts";
import type { ExchangeOutcome } from "../outcome.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
} from "../soap/types.ts";
import type { Accounting } from "./accounting.ts";
import { decodePartBody, isRootPart } from "./http_answer.ts";
import {
  type DocumentSink,
  SinkError,
  type Transaction,
} from "./transaction.ts";
import type { ExchangeWatchdog } from "./watchdog.ts";
import { concatBytes } from "../_bytes.ts";

/** A document whose part is being written, and its sink. */
interface OpenDocument<Ref, Delivered> {
  readonly ref: Ref;
  readonly sink: DocumentSink<Delivered>;
}

/** The part being read: how its bytes are used. */
type CurrentPart<Ref, Delivered> =
  | { readonly kind: "skip" }
  /** Held whole: the root, a part before the root, a base64 part. */
  | {
    readonly kind: "whole";
    readonly head: MultipartPartHead;
    readonly pieces: Uint8Array[];
    readonly role: "root" | "early" | "binary";
    /** The documents of a binary part, found at its head. */
    readonly docs?: [Ref, DocumentResponse][];
  }
  /** Written to its documents' sinks as it arrives. */
  | { readonly kind: "stream"; readonly open: OpenDocument<Ref, Delivered>[] };

/**
 * Matches the parts of one answer to its documents: holds the parts that
 * come before the root (a bounded few), maps Content-IDs, streams binary
 * parts into their documents' sinks, and collects the outcomes ready to
 * hand out.
 */
class PartMatcher<Ref, Delivered> {
  root: RetrieveResponse | undefined;
  /** DocumentUniqueIds whose part was read. */
  readonly consumed = new Set<string>();
  /** Outcomes ready to hand out. */
  readonly ready: ExchangeOutcome<Ref, Delivered>[] = [];
  readonly #early: MultipartPart[] = [];
  readonly #maxEarly: number;
  readonly #byContentId = new Map<string, DocumentResponse[]>();
  readonly #byOrder: DocumentResponse[] = [];
  #orderMode = false;
  #orderNext = 0;
  #sawContentId = false;
  #rootErrors: readonly RegistryError[] = [];
  #part: CurrentPart<Ref, Delivered> = { kind: "skip" };
  /** The buffer of the last body piece, and whether anything keeps it. */
  #lastBuffer: ArrayBufferLike | undefined;
  #kept = false;
  /** Buffers that are exactly one input chunk (safe to free). */
  readonly #chunkBuffers = new WeakSet<ArrayBufferLike>();

  constructor(
    readonly transaction: Transaction<Ref, Delivered>,
    readonly accounting: Accounting<Ref, Delivered>,
    readonly start: string | undefined,
    readonly httpStatus: number,
    readonly config: ExchangeConfig,
    requested: number,
  ) {
    // Parts held until the root arrives (a root sent last): at most one
    // per requested document plus a few unreferenced ones, so a server
    // cannot make the client buffer an unbounded answer.
    this.#maxEarly = requested + 8;
  }

  isRoot(headers: Headers, index: number): boolean {
    return isRootPart(this.start, headers, index);
  }

  /**
   * Handles one event of the splitter; a promise only when a sink's write
   * or close is asynchronous (body pieces of synchronous sinks, the common
   * case, cost no promise).
   */
  on(event: MultipartEvent): void | Promise<void> {
    switch (event.kind) {
      case "head":
        return this.#onHead(event.head);
      case "body":
        return this.#onBody(event.bytes);
      case "end":
        return this.#onEnd(event.size);
    }
  }

  /** Aborts the sinks of a part that did not end (the answer stopped). */
  async abortOpen(): Promise<void> {
    const part = this.#part;
    this.#part = { kind: "skip" };
    if (part.kind !== "stream") return;
    for (const { sink } of part.open) await sink.abort();
  }

  async #onHead(head: MultipartPartHead): Promise<void> {
    if (this.root === undefined) {
      let role: "root" | "early" = "early";
      if (this.isRoot(head.headers, head.index)) {
        role = "root";
      } else if (this.#early.length >= this.#maxEarly) {
        throw new Rad69ProtocolError(
          `Multipart answer from ${this.config.settings.printableUrl} sent more than ${this.#maxEarly} parts before its SOAP root part`,
        );
      }
      this.#part = { kind: "whole", head, pieces: [], role };
      return;
    }
    const docs = this.#documentsOf(head);
    if (docs.length === 0) {
      this.#part = { kind: "skip" };
      return;
    }
    const cte = head.headers.get("content-transfer-encoding")?.trim()
      .toLowerCase();
    if (cte && cte !== "binary" && cte !== "8bit" && cte !== "7bit") {
      // Decoded once whole (base64), or refused at its end.
      this.#part = { kind: "whole", head, pieces: [], role: "binary", docs };
      return;
    }
    const open: OpenDocument<Ref, Delivered>[] = [];
    for (const [ref, doc] of docs) {
      this.consumed.add(doc.documentUniqueId);
      try {
        open.push({ ref, sink: await this.accounting.openSink(ref, doc) });
      } catch (error) {
        if (!(error instanceof Rad69Error)) throw error;
        this.#fail(ref, error);
      }
    }
    this.#part = { kind: "stream", open };
  }

  /**
   * Frees the buffer of the pieces before, once a piece of another buffer
   * comes (every piece of a chunk is handed out before the next chunk's),
   * when no part or sink kept any of them: left to the garbage collector,
   * tens of MiB of written chunks would linger.
   */
  #noteBuffer(bytes: Uint8Array, kept: boolean): void {
    const buffer = bytes.buffer;
    if (buffer !== this.#lastBuffer) {
      this.releaseBuffer();
      this.#lastBuffer = buffer;
    }
    if (kept) this.#kept = true;
  }

  /** Notes an input chunk: its buffer may be freed once written. */
  noteChunk(chunk: Uint8Array): void {
    const buffer = chunk.buffer;
    if (chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) {
      this.#chunkBuffers.add(buffer);
    }
  }

  /** Frees the last buffer seen, unless it was kept. */
  releaseBuffer(): void {
    const buffer = this.#lastBuffer as
      | (ArrayBuffer & { transfer?: (length: number) => ArrayBuffer })
      | undefined;
    const kept = this.#kept;
    this.#lastBuffer = undefined;
    this.#kept = false;
    if (kept || !buffer || !this.#chunkBuffers.has(buffer)) return;
    if (typeof buffer.transfer !== "function") return;
    try {
      if (!(buffer as { detached?: boolean }).detached) buffer.transfer(0);
    } catch {
      // Not transferable: the garbage collector frees it.
    }
  }

  #onBody(bytes: Uint8Array): void | Promise<void> {
    const part = this.#part;
    if (part.kind === "whole") {
      this.#noteBuffer(bytes, true);
      part.pieces.push(bytes);
      return;
    }
    if (part.kind !== "stream") return this.#noteBuffer(bytes, false);
    const open = part.open;
    this.#noteBuffer(bytes, open.some(({ sink }) => sink.copies !== true));
    for (let i = 0; i < open.length; i++) {
      let wrote: void | Promise<void>;
      try {
        wrote = open[i]!.sink.write(bytes);
      } catch (error) {
        return this.#writeFailed(open, i, error, bytes);
      }
      if (wrote) {
        return wrote.then(
          () => this.#writeRest(open, i + 1, bytes),
          (error) => this.#writeFailed(open, i, error, bytes),
        );
      }
    }
  }

  /** The rest of the writes of a piece, after an asynchronous one. */
  async #writeRest(
    open: OpenDocument<Ref, Delivered>[],
    from: number,
    bytes: Uint8Array,
  ): Promise<void> {
    for (let i = from; i < open.length; i++) {
      try {
        await open[i]!.sink.write(bytes);
      } catch (error) {
        return await this.#writeFailed(open, i, error, bytes);
      }
    }
  }

  /**
   * A sink's write failed: a Rad69Error fails its document only (the
   * others still get the piece), anything else stops the exchange.
   */
  async #writeFailed(
    open: OpenDocument<Ref, Delivered>[],
    at: number,
    error: unknown,
    bytes: Uint8Array,
  ): Promise<void> {
    const { ref, sink } = open[at]!;
    await sink.abort();
    if (!(error instanceof Rad69Error)) throw new SinkError(error);
    open.splice(at, 1);
    this.#fail(ref, error);
    await this.#writeRest(open, at, bytes);
  }

  async #onEnd(size: number): Promise<void> {
    const part = this.#part;
    this.#part = { kind: "skip" };
    if (part.kind === "stream") {
      for (const { ref, sink } of part.open) {
        const o = await this.accounting.close(ref, sink, this.#rootErrors);
        if (o) this.ready.push(o);
      }
      return;
    }
    if (part.kind !== "whole") return;
    const whole: MultipartPart = {
      ...part.head,
      body: concatBytes(part.pieces, size),
    };
    if (part.role === "early") {
      this.#early.push(whole);
    } else if (part.role === "root") {
      this.#onRoot(whole);
      for (const p of this.#early.splice(0)) await this.#onWholeBinary(p);
    } else {
      await this.#onWholeBinary(whole, part.docs);
    }
  }

  #fail(ref: Ref, error: Rad69Error): void {
    const o = this.accounting.fail(ref, error);
    if (o) this.ready.push(o);
  }

  #onRoot(part: MultipartPart): void {
    const root = this.transaction.readRoot(
      decodePartBody(part),
      this.httpStatus,
    );
    this.root = root;
    this.#rootErrors = root.errors;
    for (const doc of root.documents) {
      if (doc.contentId !== undefined) {
        const list = this.#byContentId.get(doc.contentId) ?? [];
        list.push(doc);
        this.#byContentId.set(doc.contentId, list);
      }
      if (doc.inline === undefined) this.#byOrder.push(doc);
    }
    this.#orderMode = !part.headers.has("content-id");
    this.config.logger.debug?.(
      `Root part: ${root.status}, ${root.documents.length} document(s), ${root.errors.length} error(s)`,
    );
  }

  /** The pending documents a part holds (logged when there are none). */
  #documentsOf(head: MultipartPartHead): [Ref, DocumentResponse][] {
    const rawId = head.headers.get("content-id");
    let docs: DocumentResponse[] | undefined;
    if (rawId !== null) {
      this.#sawContentId = true;
      docs = this.#byContentId.get(normalizeContentId(rawId));
    } else if (this.#orderMode && !this.#sawContentId) {
      const doc = this.#byOrder[this.#orderNext++];
      docs = doc ? [doc] : undefined;
    }
    if (!docs || docs.length === 0) {
      this.config.logger.debug?.(
        `Ignoring part ${head.index + 1} (${
          rawId ?? "no Content-ID"
        }): no DocumentResponse references it`,
      );
      return [];
    }
    const out: [Ref, DocumentResponse][] = [];
    for (const doc of docs) {
      const ref = this.accounting.pending.get(doc.documentUniqueId);
      if (ref && !out.some(([r]) => r === ref)) out.push([ref, doc]);
    }
    return out;
  }

  /** A binary part held whole: decoded, then delivered to its documents. */
  async #onWholeBinary(
    part: MultipartPart,
    docs: [Ref, DocumentResponse][] = this.#documentsOf(part),
  ): Promise<void> {
    let bytes: Uint8Array | undefined;
    for (const [ref, doc] of docs) {
      if (!this.accounting.pending.has(this.transaction.key(ref))) continue;
      try {
        bytes ??= decodePartBody(part);
      } catch (error) {
        if (!(error instanceof Rad69Error)) throw error;
        this.#fail(ref, error);
        continue;
      }
      this.consumed.add(doc.documentUniqueId);
      const o = await this.accounting.deliverWhole(
        ref,
        doc,
        bytes,
        this.#rootErrors,
      );
      if (o) this.ready.push(o);
    }
  }
}

/**
 * Reads a multipart answer and yields one outcome per document as its part
 * completes; after the body ends, settles the rest from the root part.
 *
 * @param response The HTTP answer (status 2xx, multipart Content-Type).
 * @param contentType Its Content-Type.
 * @param refs What was requested.
 * @param transaction The transaction carried.
 * @param accounting The exchange's accounting.
 * @param config The exchange's config.
 * @param watchdog The exchange's watchdog.
 * @returns The outcomes.
 */
export async function* readMultipartAnswer<Ref, Delivered>(
  response: Response,
  contentType: string,
  refs: readonly Ref[],
  transaction: Transaction<Ref, Delivered>,
  accounting: Accounting<Ref, Delivered>,
  config: ExchangeConfig,
  watchdog: ExchangeWatchdog,
): AsyncGenerator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
  const s = config.settings;
  const ct = parseMultipartContentType(contentType);
  const matcher = new PartMatcher(
    transaction,
    accounting,
    ct.start,
    response.status,
    config,
    refs.length,
  );
  // Whether the part being read is capped by maxRootPartSize.
  let rootCapped = false;
  const splitter = new MultipartEventSplitter(ct.boundary, {
    engine: s.engine,
    windowSize: s.chunkSize,
    maxHeaderBytes: s.maxHeaderBytes,
    maxHeaderCount: s.maxHeaderCount,
    maxPartSize: (headers, index) => {
      const capped = matcher.root === undefined &&
        matcher.isRoot(headers, index);
      rootCapped = capped && s.maxRootPartSize < s.maxPartSize;
      return capped
        ? Math.min(s.maxRootPartSize, s.maxPartSize)
        : s.maxPartSize;
    },
    onChunk: (chunk) => {
      matcher.noteChunk(chunk);
      watchdog.progress(chunk.length);
    },
  });
  if (!response.body) {
    throw new TruncatedResponseError(
      `Server at ${watchdog.url} sent an empty multipart body`,
    );
  }
  const events = response.body.pipeThrough(splitter).getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<MultipartEvent>;
      try {
        next = await events.read();
      } catch (cause) {
        const error = watchdog.transportError(cause);
        if (error instanceof TruncatedResponseError) {
          yield* truncated(error, matcher, refs);
          return;
        }
        // Parts completed before the failure are already accounted for.
        watchdog.pause();
        yield* matcher.ready.splice(0);
        throw rootCapped && error instanceof LimitExceededError &&
            error.limit === "maxPartSize"
          ? new LimitExceededError(
            "maxRootPartSize",
            s.maxRootPartSize,
            `The SOAP root part of the answer from ${watchdog.url}`,
          )
          : error;
      }
      if (next.done) break;
      const handled = matcher.on(next.value);
      if (handled) await handled;
      if (matcher.ready.length > 0) {
        // The consumer's pace is not the server's: no idle timeout meanwhile.
        watchdog.pause();
        yield* matcher.ready.splice(0);
        watchdog.armIdle();
      }
      if (next.value.kind === "end" && next.value.last) break;
    }
  } finally {
    watchdog.pause();
    await matcher.abortOpen();
    matcher.releaseBuffer();
    await events.cancel().catch(() => {});
  }
  if (matcher.root === undefined) {
    throw new Rad69ProtocolError(
      ct.start === undefined
        ? "Multipart answer has no parts"
        : `Multipart answer has no root part with Content-ID "${ct.start}"`,
    );
  }
  yield* accounting.settle(
    matcher.root,
    matcher.consumed,
    refs,
    config.logger,
  );
}

/** The body ended early: what the root said is missing, the rest is cut. */
async function* truncated<Ref, Delivered>(
  error: TruncatedResponseError,
  matcher: PartMatcher<Ref, Delivered>,
  refs: readonly Ref[],
): AsyncGenerator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
  const { accounting, transaction, root } = matcher;
  await matcher.abortOpen();
  yield* matcher.ready.splice(0);
  if (root) yield* accounting.settleKnownFailures(root, refs);
  const message = root === undefined
    ? `${error.message}; the SOAP root part never arrived`
    : error.message;
  yield* accounting.failAll((ref) =>
    new TruncatedResponseError(
      `${capitalize(transaction.noun)} "${
        transaction.key(ref)
      }" was not delivered: ${message}`,
      { ...transaction.errorOptions(ref), cause: error },
    )
  );
}

/** "instance" → "Instance". */
function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
