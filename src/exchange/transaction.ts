/**
 * What the exchange core needs to know about the transaction it carries: a
 * small description, so that RAD-69, ITI-43 and the cross-gateway variants
 * share one transport, one answer reader and one accounting.
 *
 * @module
 */

import type { ExchangeSettings } from "../config.ts";
import type { Rad69Error } from "../errors.ts";
import type { InstanceReference } from "../reference_types.ts";
import type { RetrieveRequest } from "../soap/request.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
} from "../soap/types.ts";

/** What the exchange adds to every request of any transaction. */
export interface RequestExtras {
  /** A `wsse:Security` header, inserted byte for byte. */
  readonly securityHeader?: string | undefined;
}

/**
 * Where one document's bytes go as they leave the splitter: `write` is
 * called with each piece in order, then `close` once the part ended
 * complete, or `abort` when it did not (or the exchange stopped).
 *
 * A `write` or `close` that throws a {@linkcode Rad69Error} fails this
 * document only (the sink is then aborted); anything else thrown (a disk
 * error) stops the exchange and reaches the caller.
 *
 * @typeParam Delivered What a delivered document becomes.
 */
export interface DocumentSink<Delivered> {
  /**
   * `true` when `write` is done with its bytes once it returns (it wrote or
   * copied them): the exchange may then free each chunk of the body as
   * soon as it is written, instead of leaving it to the garbage collector.
   */
  readonly copies?: boolean;
  /** Takes the next bytes (a view that stays valid; do not change it). */
  write(bytes: Uint8Array): void | Promise<void>;
  /**
   * The document is complete: verify it and make the delivered value.
   *
   * @param warnings The warnings the server reported for it.
   */
  close(warnings: readonly RegistryError[]): Delivered | Promise<Delivered>;
  /** Drops what was written. Never throws. */
  abort(): void | Promise<void>;
}

/**
 * Opens the sink of one instance's bytes (see `Rad69Client.retrieveTo()`).
 *
 * @typeParam Delivered What a delivered instance becomes.
 */
export type OpenInstanceSink<Delivered> = (
  ref: InstanceReference,
  doc: DocumentResponse,
) => DocumentSink<Delivered> | Promise<DocumentSink<Delivered>>;

/**
 * A sink that gathers a document in memory (at most `max` bytes), then
 * makes the delivered value from its bytes, an owned buffer of the exact
 * size: what transactions that hand out owned documents use. Pieces are
 * copied as they come (into reused 1 MiB blocks), so the body's chunks are
 * freed at once rather than held until the document ends.
 *
 * @param max The most bytes held.
 * @param tooBig The error for a larger document (it fails that document).
 * @param make Makes the delivered value; throws a {@linkcode Rad69Error}
 * when the bytes are not acceptable.
 * @returns The sink.
 *
 * @example Gather a document from two pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { LimitExceededError } from "@rad69/client";
 * import { collectInMemory } from "./transaction.ts";
 *
 * const tooBig = () => new LimitExceededError("max", 4, "Document");
 * const sink = collectInMemory(8, tooBig, (bytes) => bytes.length);
 * sink.write(new Uint8Array(3));
 * sink.write(new Uint8Array(2));
 * assert.equal(await sink.close([]), 5);
 * const small = collectInMemory(4, tooBig, (bytes) => bytes.length);
 * assert.throws(() => small.write(new Uint8Array(5)), LimitExceededError);
 * ```
 */
export function collectInMemory<Delivered>(
  max: number,
  tooBig: () => Rad69Error,
  make: (bytes: Uint8Array, warnings: readonly RegistryError[]) => Delivered,
): DocumentSink<Delivered> {
  let blocks: Uint8Array[] = [];
  let size = 0;
  const drop = () => {
    for (const block of blocks) recycleBlock(block);
    blocks = [];
  };
  return {
    copies: true,
    write(bytes) {
      if (size + bytes.length > max) {
        drop();
        throw tooBig();
      }
      for (let at = 0; at < bytes.length;) {
        const used = size % BLOCK;
        if (used === 0) blocks.push(BLOCKS.pop() ?? new Uint8Array(BLOCK));
        const take = Math.min(BLOCK - used, bytes.length - at);
        blocks.at(-1)!.set(bytes.subarray(at, at + take), used);
        at += take;
        size += take;
      }
    },
    close(warnings) {
      const bytes = new Uint8Array(size);
      blocks.forEach((block, i) => {
        const from = i * BLOCK;
        bytes.set(block.subarray(0, Math.min(BLOCK, size - from)), from);
      });
      drop();
      return make(bytes, warnings);
    },
    abort: drop,
  };
}

/**
 * Blocks of gathered documents, reused: a document's bytes are copied into
 * them as they arrive (so the body's chunks are freed at once), then into
 * one owned buffer of the exact size.
 */
const BLOCK = 1 << 20;
const BLOCKS: Uint8Array[] = [];
const MAX_FREE_BLOCKS = 16;

function recycleBlock(block: Uint8Array): void {
  if (BLOCKS.length < MAX_FREE_BLOCKS) BLOCKS.push(block);
}

/**
 * A failure of a document sink that is not about the document (a disk
 * error): it stops the exchange, its retries and the run, and the caller
 * gets `cause`, the original error.
 */
export class SinkError extends Error {
  /**
   * @param cause What the sink threw.
   */
  constructor(cause: unknown) {
    super(
      `A document sink failed: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "SinkError";
  }
}

/**
 * The original error of a {@linkcode SinkError}, else the error itself.
 *
 * @param error Anything thrown.
 * @returns What to hand to the caller.
 */
export function unwrapSinkError(error: unknown): unknown {
  return error instanceof SinkError ? error.cause : error;
}

/**
 * One retrieve transaction, as the exchange core sees it.
 *
 * @typeParam Ref What is requested (one document each).
 * @typeParam Delivered What a delivered document becomes.
 */
export interface Transaction<Ref, Delivered> {
  /** Its name in messages ("RAD-69", "ITI-43"). */
  readonly name: string;
  /** What one document is called in messages ("instance", "document"). */
  readonly noun: string;
  /** The DocumentUniqueId a request element and its answer carry. */
  key(ref: Ref): string;
  /** Builds the SOAP request for these documents. */
  buildRequest(
    refs: readonly Ref[],
    settings: ExchangeSettings,
    url: string,
    extras: RequestExtras,
  ): RetrieveRequest;
  /** Reads the root part (or plain SOAP answer). */
  readRoot(xml: Uint8Array, httpStatus: number): RetrieveResponse;
  /**
   * Opens the sink a document's bytes are written to as they arrive (an
   * in-memory collector, a temporary file…).
   */
  open(
    ref: Ref,
    doc: DocumentResponse,
    settings: ExchangeSettings,
  ): DocumentSink<Delivered> | Promise<DocumentSink<Delivered>>;
  /**
   * The HomeCommunityId a document is requested with, when it carries its
   * own: a RegistryError located by a community is about every document of
   * that community.
   */
  community(ref: Ref): string | undefined;
  /** Extra error options naming the document (`instance` for RAD-69). */
  errorOptions(ref: Ref): { instance?: InstanceReference };
  /** Turns a RegistryError about this document into its error. */
  registryError(error: RegistryError, ref: Ref): Rad69Error;
}
