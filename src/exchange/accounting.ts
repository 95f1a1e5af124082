/**
 * Per-document accounting of one exchange: every requested document ends
 * as exactly one outcome, delivered or failed with its reason, whatever the
 * answer held (documents, RegistryErrors, nothing).
 *
 * @module
 */

import {
  DocumentNotReturnedError,
  Rad69Error,
  Rad69ProtocolError,
} from "../errors.ts";
import type { Rad69Logger } from "../logger.ts";
import type { ExchangeOutcome } from "../outcome.ts";
import { redactError } from "../redact.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
} from "../soap/types.ts";
import type { ExchangeSettings } from "../config.ts";
import {
  type DocumentSink,
  SinkError,
  type Transaction,
} from "./transaction.ts";

/** Whether `text` holds `uid` as a whole UID (not inside a longer one). */
export function containsUid(text: string, uid: string): boolean {
  let at = text.indexOf(uid);
  while (at >= 0) {
    const before = at === 0 ? "" : text[at - 1]!;
    const after = text[at + uid.length] ?? "";
    if (!/[0-9.]/.test(before) && !/[0-9.]/.test(after)) return true;
    at = text.indexOf(uid, at + 1);
  }
  return false;
}

/** The RegistryErrors about one document: by location, else by context. */
function errorsFor(
  errors: readonly RegistryError[],
  uid: string,
): RegistryError[] {
  const byLocation = errors.filter((e) => e.location.trim() === uid);
  if (byLocation.length > 0) return byLocation;
  return errors.filter((e) => containsUid(e.context, uid));
}

/**
 * Whether an error is ignored: its class name, a base class name or its
 * `code` is listed.
 */
export function isIgnored(
  error: Rad69Error,
  ignored: readonly string[],
): boolean {
  if (ignored.length === 0) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && ignored.includes(code)) return true;
  for (
    let proto: object | null = Object.getPrototypeOf(error);
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor
      ?.name;
    if (typeof name === "string" && ignored.includes(name)) return true;
  }
  return ignored.includes(error.name);
}

/**
 * The state of one exchange: what was asked and what is still pending.
 * Errors are redacted as they are recorded.
 */
export class Accounting<Ref, Delivered> {
  /** The documents still pending, by DocumentUniqueId. */
  readonly pending: Map<string, Ref>;
  readonly #transaction: Transaction<Ref, Delivered>;
  readonly #secrets: readonly string[];
  readonly #ignored: readonly string[];
  readonly #settings: ExchangeSettings;

  /**
   * @param transaction The transaction (for the documents' keys).
   * @param refs What was requested.
   * @param secrets What to redact from errors.
   * @param ignored Error class names and codes the caller ignores: a
   * document sent with an Error about it is then delivered with that error
   * as a warning instead of failed.
   * @param settings The exchange's settings (for the documents' sinks).
   */
  constructor(
    transaction: Transaction<Ref, Delivered>,
    refs: readonly Ref[],
    secrets: readonly string[],
    ignored: readonly string[],
    settings: ExchangeSettings,
  ) {
    this.#transaction = transaction;
    this.pending = new Map(refs.map((r) => [transaction.key(r), r]));
    this.#secrets = secrets;
    this.#ignored = ignored;
    this.#settings = settings;
  }

  /**
   * Opens the sink of a document's bytes. What opening throws, other than
   * a {@linkcode Rad69Error}, is a {@linkcode SinkError}.
   */
  async openSink(
    ref: Ref,
    doc: DocumentResponse,
  ): Promise<DocumentSink<Delivered>> {
    try {
      return await this.#transaction.open(ref, doc, this.#settings);
    } catch (error) {
      if (error instanceof Rad69Error) throw error;
      throw new SinkError(error);
    }
  }

  /** The outcome of a delivered document, once. */
  deliver(
    ref: Ref,
    value: Delivered,
  ): ExchangeOutcome<Ref, Delivered> | undefined {
    if (!this.pending.delete(this.#transaction.key(ref))) return undefined;
    return { status: "delivered", ref, instance: value };
  }

  /** The outcome of a failed document, once. */
  fail(
    ref: Ref,
    error: Rad69Error,
  ): ExchangeOutcome<Ref, Delivered> | undefined {
    if (!this.pending.delete(this.#transaction.key(ref))) return undefined;
    return { status: "failed", ref, error: redactError(error, this.#secrets) };
  }

  /** Fails every pending document. */
  failAll(error: (ref: Ref) => Rad69Error): ExchangeOutcome<Ref, Delivered>[] {
    const out: ExchangeOutcome<Ref, Delivered>[] = [];
    for (const ref of [...this.pending.values()]) {
      const o = this.fail(ref, error(ref));
      if (o) out.push(o);
    }
    return out;
  }

  /**
   * Closes a document's sink (which verifies the bytes) and delivers what
   * it made, or fails the document with the sink's error (the sink is then
   * aborted). A document the root part reports an Error for (by location,
   * else by its UID in the context) is not delivered even though its bytes
   * came: it fails with that error, unless the error's class or code is
   * ignored, when it is delivered with the error among its warnings.
   * Errors other than a {@linkcode Rad69Error} are thrown as a
   * {@linkcode SinkError}.
   */
  async close(
    ref: Ref,
    sink: DocumentSink<Delivered>,
    rootErrors: readonly RegistryError[],
  ): Promise<ExchangeOutcome<Ref, Delivered> | undefined> {
    const uid = this.#transaction.key(ref);
    const own = rootErrors.filter((w) =>
      w.isWarning && (
        w.location.trim() === uid || containsUid(w.context, uid) ||
        (w.location.trim() === "" && !/\d+\.\d+\.\d+/.test(w.context))
      )
    );
    const reported = errorsFor(rootErrors.filter((e) => !e.isWarning), uid);
    if (reported.length > 0) {
      const error = this.#transaction.registryError(reported[0]!, ref);
      if (!isIgnored(error, this.#ignored)) {
        await sink.abort();
        return this.fail(ref, error);
      }
      own.push(...reported);
    }
    let value: Delivered;
    try {
      value = await sink.close(own);
    } catch (error) {
      await sink.abort();
      if (error instanceof Rad69Error) return this.fail(ref, error);
      throw new SinkError(error);
    }
    return this.deliver(ref, value);
  }

  /**
   * Delivers a document whose bytes are all at hand (an inline document, a
   * decoded base64 part) through a sink of its own.
   */
  async deliverWhole(
    ref: Ref,
    doc: DocumentResponse,
    bytes: Uint8Array,
    rootErrors: readonly RegistryError[],
  ): Promise<ExchangeOutcome<Ref, Delivered> | undefined> {
    let sink: DocumentSink<Delivered>;
    try {
      sink = await this.openSink(ref, doc);
    } catch (error) {
      if (error instanceof Rad69Error) return this.fail(ref, error);
      throw error;
    }
    try {
      await sink.write(bytes);
    } catch (error) {
      await sink.abort();
      if (error instanceof Rad69Error) return this.fail(ref, error);
      throw new SinkError(error);
    }
    return await this.close(ref, sink, rootErrors);
  }

  /**
   * Delivers what a parsed root part says once the answer has ended
   * complete: inline documents, errors for the documents not returned.
   * `consumed` lists the documents whose part was read; every document
   * referencing a part that is not in the (complete) answer fails with a
   * protocol error.
   */
  async *settle(
    parsed: RetrieveResponse,
    consumed: ReadonlySet<string>,
    refs: readonly Ref[],
    logger: Rad69Logger,
  ): AsyncGenerator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
    const t = this.#transaction;
    const noun = t.noun;
    for (const doc of parsed.documents) {
      if (doc.inline === undefined) continue;
      const ref = this.pending.get(doc.documentUniqueId);
      if (!ref) continue;
      const o = await this.deliverWhole(ref, doc, doc.inline, parsed.errors);
      if (o) yield o;
    }
    for (const doc of parsed.documents) {
      const ref = this.pending.get(doc.documentUniqueId);
      if (!ref || consumed.has(doc.documentUniqueId)) continue;
      if (doc.contentId !== undefined || doc.inline === undefined) {
        const uid = t.key(ref);
        const o = this.fail(
          ref,
          new Rad69ProtocolError(
            doc.contentId !== undefined
              ? `The part "${doc.contentId}" holding ${noun} "${uid}" is not in the answer, which ended complete`
              : `The server listed ${noun} "${uid}" without its document`,
            t.errorOptions(ref),
          ),
        );
        if (o) yield o;
      }
    }
    const errors = parsed.errors.filter((e) => !e.isWarning);
    const requested = new Set(refs.map((r) => t.key(r)));
    const communities = new Set(
      refs.flatMap((r) => t.community(r) ?? []),
    );
    const general = errors.filter((e) =>
      !requested.has(e.location.trim()) &&
      !communities.has(e.location.trim()) &&
      ![...requested].some((uid) => containsUid(e.context, uid))
    );
    for (const ref of [...this.pending.values()]) {
      const uid = t.key(ref);
      const community = t.community(ref);
      const chosen = errorsFor(errors, uid)[0] ??
        (community === undefined
          ? undefined
          : errors.find((e) => e.location.trim() === community)) ??
        general[0];
      const error = chosen
        ? t.registryError(chosen, ref)
        : new DocumentNotReturnedError(
          `Server answered ${parsed.status} but did not return ${noun} "${uid}" and gave no error for it`,
          t.errorOptions(ref),
        );
      if (!chosen) logger.warn?.(error.message);
      const o = this.fail(ref, error);
      if (o) yield o;
    }
  }

  /** Fails the documents for which the root part already gave an error. */
  *settleKnownFailures(
    root: RetrieveResponse,
    refs: readonly Ref[],
  ): Generator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
    const t = this.#transaction;
    const errors = root.errors.filter((e) => !e.isWarning);
    const returned = new Set(root.documents.map((d) => d.documentUniqueId));
    for (const ref of refs) {
      const uid = t.key(ref);
      if (returned.has(uid)) continue;
      const own = errorsFor(errors, uid)[0];
      if (!own) continue;
      const o = this.fail(ref, t.registryError(own, ref));
      if (o) yield o;
    }
  }
}
