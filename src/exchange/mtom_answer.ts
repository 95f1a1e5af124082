/**
 * Reads an MTOM/XOP (multipart/related) answer: splits the body, finds the
 * SOAP root part, matches binary parts to their documents by Content-ID
 * (RFC 2392; by order only when a server sends no Content-IDs) and hands
 * each document to the accounting as its part completes.
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
import {
  MultipartParser,
  type MultipartPart,
} from "../multipart/multipart_parser.ts";
import type { ExchangeConfig } from "../config.ts";
import type { ExchangeOutcome } from "../outcome.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
} from "../soap/types.ts";
import type { Accounting } from "./accounting.ts";
import { readBodyBatches } from "./body_reader.ts";
import { decodePartBody, isRootPart } from "./http_answer.ts";
import type { Transaction } from "./transaction.ts";
import type { ExchangeWatchdog } from "./watchdog.ts";

/**
 * Matches the parts of one answer to its documents: holds the parts that
 * come before the root (a bounded few), maps Content-IDs, and collects the
 * outcomes ready to hand out.
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

  onPart(part: MultipartPart): void {
    if (this.root !== undefined) return this.#onBinary(part);
    if (this.isRoot(part.headers, part.index)) {
      this.#onRoot(part);
      for (const p of this.#early.splice(0)) this.#onBinary(p);
    } else if (this.#early.length >= this.#maxEarly) {
      throw new Rad69ProtocolError(
        `Multipart answer from ${this.config.settings.printableUrl} sent more than ${this.#maxEarly} parts before its SOAP root part`,
      );
    } else {
      this.#early.push(part);
    }
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

  #documentsOf(part: MultipartPart): DocumentResponse[] | undefined {
    const rawId = part.headers.get("content-id");
    if (rawId !== null) {
      this.#sawContentId = true;
      return this.#byContentId.get(normalizeContentId(rawId));
    }
    if (this.#orderMode && !this.#sawContentId) {
      const doc = this.#byOrder[this.#orderNext++];
      return doc ? [doc] : undefined;
    }
    return undefined;
  }

  #onBinary(part: MultipartPart): void {
    const docs = this.#documentsOf(part);
    if (!docs || docs.length === 0) {
      this.config.logger.debug?.(
        `Ignoring part ${part.index + 1} (${
          part.headers.get("content-id") ?? "no Content-ID"
        }): no DocumentResponse references it`,
      );
      return;
    }
    let bytes: Uint8Array | undefined;
    for (const doc of docs) {
      const ref = this.accounting.pending.get(doc.documentUniqueId);
      if (!ref) continue;
      try {
        bytes ??= decodePartBody(part);
      } catch (error) {
        if (!(error instanceof Rad69Error)) throw error;
        const o = this.accounting.fail(ref, error);
        if (o) this.ready.push(o);
        continue;
      }
      this.consumed.add(doc.documentUniqueId);
      const o = this.accounting.deliverBytes(
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
  using parser = new MultipartParser(ct.boundary, {
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
  });
  if (!response.body) {
    throw new TruncatedResponseError(
      `Server at ${watchdog.url} sent an empty multipart body`,
    );
  }
  const onPart = (part: MultipartPart) => matcher.onPart(part);
  for await (const chunk of readBodyBatches(response.body, watchdog)) {
    try {
      parser.push(chunk, onPart);
    } catch (error) {
      // Parts completed before the failure are already accounted for.
      watchdog.pause();
      yield* matcher.ready.splice(0);
      if (
        rootCapped && error instanceof LimitExceededError &&
        error.limit === "maxPartSize"
      ) {
        throw new LimitExceededError(
          "maxRootPartSize",
          s.maxRootPartSize,
          `The SOAP root part of the answer from ${watchdog.url}`,
        );
      }
      throw error;
    }
    if (matcher.ready.length > 0) {
      // The consumer's pace is not the server's: no idle timeout meanwhile.
      watchdog.pause();
      yield* matcher.ready.splice(0);
      watchdog.armIdle();
    }
    if (parser.done) break;
  }
  yield* finishAnswer(parser, matcher, refs, ct.start);
}

/** Ends the body: a truncation fails what is left, else settle the rest. */
function* finishAnswer<Ref, Delivered>(
  parser: MultipartParser,
  matcher: PartMatcher<Ref, Delivered>,
  refs: readonly Ref[],
  start: string | undefined,
): Generator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
  const { accounting, transaction, root } = matcher;
  try {
    parser.finish();
  } catch (error) {
    if (!(error instanceof TruncatedResponseError)) throw error;
    // The body ended early. Settle what the root said is missing, the rest
    // fails with the truncation.
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
    return;
  }
  if (root === undefined) {
    throw new Rad69ProtocolError(
      start === undefined
        ? "Multipart answer has no parts"
        : `Multipart answer has no root part with Content-ID "${start}"`,
    );
  }
  yield* accounting.settle(
    root,
    matcher.consumed,
    refs,
    matcher.config.logger,
  );
}

/** "instance" → "Instance". */
function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
