/**
 * One RAD-69 exchange: build the request, POST it, stream the answer, and
 * account for every requested instance. This is the unit of work that the
 * client runs per series (or bin) and that workers run off the main thread.
 *
 * @module
 */

import {
  DocumentNotReturnedError,
  Rad69Error,
  Rad69HttpError,
  Rad69NetworkError,
  Rad69ProtocolError,
  Rad69ServerError,
  TruncatedResponseError,
  XDSMissingDocumentError,
} from "./errors.ts";
import { decodeInstance } from "./dicom.ts";
import { Rad69Instance } from "./instance.ts";
import type { InstanceReference } from "./references.ts";
import {
  buildRetrieveRequest,
  type BuildRetrieveRequestOptions,
} from "./soap/request.ts";
import { findSoapFault, parseRetrieveResponse } from "./soap/response.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
} from "./soap/types.ts";
import {
  parseMediaType,
  parseMultipartContentType,
  stripAngleBrackets,
} from "./multipart/content_type.ts";
import { normalizeContentId } from "./multipart/content_id.ts";
import {
  MultipartParser,
  type MultipartPart,
} from "./multipart/multipart_parser.ts";
import type { ScanEngineKind } from "./multipart/engines.ts";
import { type Rad69Logger, silentLogger } from "./logger.ts";

/** What became of one requested instance. */
export type InstanceOutcome =
  | {
    /** The instance arrived, verified. */
    readonly status: "delivered";
    /** The requested instance. */
    readonly ref: InstanceReference;
    /** The instance's bytes and dataset. */
    readonly instance: Rad69Instance;
  }
  | {
    /** The instance did not arrive. */
    readonly status: "failed";
    /** The requested instance. */
    readonly ref: InstanceReference;
    /** Why it did not arrive. */
    readonly error: Rad69Error;
  };

/** Size limits applied to an answer. */
export interface ResponseLimits {
  /**
   * The largest SOAP root part (or plain SOAP answer) accepted, in bytes.
   *
   * @default {67108864}
   */
  maxRootPartSize?: number;
  /**
   * The largest single part accepted, in bytes.
   *
   * @default {2147483648}
   */
  maxPartSize?: number;
  /**
   * The largest header section of a part, in bytes.
   *
   * @default {16384}
   */
  maxHeaderBytes?: number;
  /**
   * The most header fields in a part.
   *
   * @default {64}
   */
  maxHeaderCount?: number;
}

/** Options of {@linkcode retrieveBatch}. */
export interface RetrieveBatchOptions
  extends
    Omit<BuildRetrieveRequestOptions, "url" | "messageId">,
    ResponseLimits {
  /** The endpoint URL. */
  url: string;
  /** Extra request headers (e.g. Authorization). */
  headers?: HeadersInit;
  /** The fetch to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** A `Deno.HttpClient` (mutual TLS, custom CA, proxy). */
  client?: Deno.HttpClient;
  /** Stops the exchange. */
  signal?: AbortSignal;
  /**
   * The splitter's window size in bytes.
   *
   * @default {5242880}
   */
  chunkSize?: number;
  /**
   * The delimiter search engine.
   *
   * @default {"wasm"}
   */
  engine?: ScanEngineKind;
  /**
   * Milliseconds to wait for the response headers (connect + first byte).
   * 0 disables it.
   *
   * @default {60000}
   */
  timeoutMs?: number;
  /**
   * Milliseconds without any body bytes before the transfer counts as
   * stalled. 0 disables it.
   *
   * @default {60000}
   */
  idleTimeoutMs?: number;
  /** Where diagnostics go. */
  logger?: Rad69Logger;
  /** Called with the byte count of every body chunk read. */
  onBytes?: (bytes: number) => void;
}

const MISSING_CODES = new Set([
  "XDSMissingDocument",
  "XDSDocumentUniqueIdError",
  "urn:dicom:wado:0017",
]);
const READ_SIZE = 1 << 20;
const EXCERPT_BYTES = 300;

/**
 * Turns a RegistryError into the error reported for an instance.
 *
 * @param error The RegistryError.
 * @param ref The instance it is about.
 * @returns A `XDSMissingDocumentError` for "not found" codes, else a
 * `Rad69ServerError` that keeps the code.
 */
export function registryErrorToError(
  error: RegistryError,
  ref: InstanceReference,
): Rad69ServerError {
  const options = {
    code: error.code,
    context: error.context,
    location: error.location,
    severity: error.severity,
    instance: ref,
  };
  const detail = error.context ? `: ${error.context}` : "";
  return MISSING_CODES.has(error.code)
    ? new XDSMissingDocumentError(
      `Instance "${ref.instanceUid}" not found on the server (${error.code}${detail})`,
      options,
    )
    : new Rad69ServerError(
      `Server reported ${error.code} for instance "${ref.instanceUid}"${detail}`,
      options,
    );
}

function errorsFor(
  errors: readonly RegistryError[],
  uid: string,
): RegistryError[] {
  const byLocation = errors.filter((e) => e.location.trim() === uid);
  if (byLocation.length > 0) return byLocation;
  return errors.filter((e) => containsUid(e.context, uid));
}

function containsUid(text: string, uid: string): boolean {
  let at = text.indexOf(uid);
  while (at >= 0) {
    const before = at === 0 ? "" : text[at - 1]!;
    const after = text[at + uid.length] ?? "";
    if (!/[0-9.]/.test(before) && !/[0-9.]/.test(after)) return true;
    at = text.indexOf(uid, at + 1);
  }
  return false;
}

function decodePartBody(part: MultipartPart): Uint8Array {
  const cte = part.headers.get("content-transfer-encoding")?.trim()
    .toLowerCase();
  if (!cte || cte === "binary" || cte === "8bit" || cte === "7bit") {
    return part.body;
  }
  if (cte === "base64") {
    const text = new TextDecoder("latin1").decode(part.body).replace(
      /[\s]+/g,
      "",
    );
    try {
      return base64Decode(text);
    } catch (cause) {
      throw new Rad69ProtocolError(
        `Part ${part.index + 1} is not valid base64`,
        { cause, excerpt: text.slice(0, EXCERPT_BYTES) },
      );
    }
  }
  throw new Rad69ProtocolError(
    `Part ${
      part.index + 1
    } uses unsupported Content-Transfer-Encoding "${cte}"`,
  );
}

/** Decodes base64 (standard alphabet, padding optional). */
function base64Decode(text: string): Uint8Array {
  const from = (Uint8Array as unknown as {
    fromBase64?: (s: string) => Uint8Array;
  }).fromBase64;
  if (from) return from(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function excerptOf(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(0, EXCERPT_BYTES),
  );
}

/** Reads a whole (small) body, up to `max` bytes. */
async function readCapped(
  response: Response,
  max: number,
  what: string,
): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > max) {
      throw new Rad69ProtocolError(
        `${what} exceeds ${max} bytes (maxRootPartSize)`,
        { excerpt: excerptOf(chunks[0] ?? chunk) },
      );
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reads the first bytes of a body for an error message, then drops it. */
async function readExcerpt(
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
  const out = new Uint8Array(Math.min(total, max));
  let at = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, out.length - at);
    out.set(c.subarray(0, take), at);
    at += take;
    if (at >= out.length) break;
  }
  return out;
}

function looksLikeXml(contentType: string | null, bytes: Uint8Array): boolean {
  if (contentType && /xml/i.test(contentType)) return true;
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith("<");
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}

/** The state of one exchange: what was asked and what has arrived. */
class Accounting {
  readonly pending: Map<string, InstanceReference>;
  readonly outcomes: InstanceOutcome[] = [];

  constructor(refs: readonly InstanceReference[]) {
    this.pending = new Map(refs.map((r) => [r.instanceUid, r]));
  }

  deliver(instance: Rad69Instance): InstanceOutcome | undefined {
    if (!this.pending.delete(instance.ref.instanceUid)) return undefined;
    const outcome: InstanceOutcome = {
      status: "delivered",
      ref: instance.ref,
      instance,
    };
    return outcome;
  }

  fail(ref: InstanceReference, error: Rad69Error): InstanceOutcome | undefined {
    if (!this.pending.delete(ref.instanceUid)) return undefined;
    return { status: "failed", ref, error };
  }

  failAll(error: (ref: InstanceReference) => Rad69Error): InstanceOutcome[] {
    const out: InstanceOutcome[] = [];
    for (const ref of [...this.pending.values()]) {
      const o = this.fail(ref, error(ref));
      if (o) out.push(o);
    }
    return out;
  }
}

/**
 * Runs one RAD-69 exchange for a batch of instances and yields one outcome
 * per requested instance: delivered (as its part arrives) or failed with a
 * reason (after the answer ends). It never throws for a server, protocol or
 * network failure: those become failures of the instances concerned. It
 * throws only when `signal` aborts.
 *
 * @param refs The instances to request in one SOAP request (validated UIDs).
 * @param options The endpoint, transport and request fields.
 * @returns The outcomes, one per distinct requested instance.
 * @throws {DOMException} When `signal` aborts (its reason is rethrown).
 *
 * @example
 * ```ts ignore
 * for await (const outcome of retrieveBatch(refs, { url })) {
 *   if (outcome.status === "failed") console.error(outcome.error.message);
 * }
 * ```
 */
export async function* retrieveBatch(
  refs: readonly InstanceReference[],
  options: RetrieveBatchOptions,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const logger = options.logger ?? silentLogger;
  const accounting = new Accounting(refs);
  const request = buildRetrieveRequest(refs, {
    ...options,
    url: options.url,
  });
  const userSignal = options.signal;
  userSignal?.throwIfAborted();
  const controller = new AbortController();
  const signal = userSignal
    ? AbortSignal.any([userSignal, controller.signal])
    : controller.signal;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut: string | undefined;
  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    if (ms > 0) {
      timer = setTimeout(() => {
        timedOut = what;
        controller.abort(new DOMException(what, "TimeoutError"));
      }, ms);
    }
  };
  const transportError = (cause: unknown): Rad69Error => {
    if (userSignal?.aborted) throw userSignal.reason;
    if (cause instanceof Rad69Error) return cause;
    if (timedOut) {
      return new Rad69NetworkError(`Request to ${options.url} ${timedOut}`, {
        cause,
      });
    }
    const message = cause instanceof Error ? cause.message : String(cause);
    return new Rad69NetworkError(
      `Connection to ${options.url} failed: ${message}`,
      { cause },
    );
  };

  const headers = new Headers(options.headers);
  headers.set("content-type", request.contentType);
  if (!headers.has("accept")) {
    headers.set(
      "accept",
      "multipart/related, application/soap+xml, application/xop+xml, text/xml",
    );
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  logger.debug?.(
    `POST ${options.url}: ${refs.length} instance(s), MessageID ${request.messageId}`,
  );
  let response: Response;
  arm(timeoutMs, `got no response headers within ${timeoutMs} ms`);
  try {
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method: "POST",
      headers,
      body: request.body as Uint8Array<ArrayBuffer>,
      signal,
    };
    if (options.client) init.client = options.client;
    response = await fetchFn(options.url, init);
  } catch (cause) {
    clearTimeout(timer);
    const error = transportError(cause);
    yield* accounting.failAll(() => error);
    return;
  }
  try {
    arm(idleTimeoutMs, `stalled: no data for ${idleTimeoutMs} ms`);
    yield* handleResponse(
      response,
      refs,
      accounting,
      options,
      logger,
      () => arm(idleTimeoutMs, `stalled: no data for ${idleTimeoutMs} ms`),
    );
  } catch (cause) {
    const error = transportError(cause);
    yield* accounting.failAll(() => error);
  } finally {
    clearTimeout(timer);
    if (!response.bodyUsed && response.body) {
      await response.body.cancel().catch(() => {});
    }
  }
}

async function* handleResponse(
  response: Response,
  refs: readonly InstanceReference[],
  accounting: Accounting,
  options: RetrieveBatchOptions,
  logger: Rad69Logger,
  onProgress: () => void,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const contentType = response.headers.get("content-type");
  const maxRoot = options.maxRootPartSize ?? 64 * 2 ** 20;
  if (!response.ok) {
    const excerpt = await readExcerpt(response);
    if (looksLikeXml(contentType, excerpt)) {
      const fault = findSoapFault(excerpt, response.status);
      if (fault) throw fault;
    }
    const text = excerptOf(excerpt);
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    const httpOptions: {
      status: number;
      url: string;
      bodyExcerpt: string;
      retryAfterSeconds?: number;
    } = { status: response.status, url: options.url, bodyExcerpt: text };
    if (retryAfter !== undefined) httpOptions.retryAfterSeconds = retryAfter;
    throw new Rad69HttpError(
      `Server at ${options.url} answered HTTP ${response.status} ${response.statusText}: ${
        JSON.stringify(text.slice(0, 200))
      }`,
      httpOptions,
    );
  }
  if (!contentType) {
    const excerpt = await readExcerpt(response, EXCERPT_BYTES);
    throw new Rad69ProtocolError(
      `Server at ${options.url} answered without a Content-Type; body starts with ${
        JSON.stringify(excerptOf(excerpt))
      }`,
      { excerpt: excerptOf(excerpt) },
    );
  }
  let essence: string;
  try {
    essence = parseMediaType(contentType).essence;
  } catch {
    essence = "";
  }
  if (essence.startsWith("multipart/")) {
    yield* handleMultipart(
      response,
      contentType,
      refs,
      accounting,
      options,
      logger,
      onProgress,
    );
    return;
  }
  if (
    essence === "application/soap+xml" || essence === "text/xml" ||
    essence === "application/xml" || essence === "application/xop+xml"
  ) {
    const body = await readCapped(response, maxRoot, "SOAP answer");
    const parsed = parseRetrieveResponse(body, { httpStatus: response.status });
    yield* settle(parsed, new Map(), accounting, refs, logger);
    return;
  }
  const excerpt = await readExcerpt(response, EXCERPT_BYTES);
  throw new Rad69ProtocolError(
    `Server at ${options.url} answered with unexpected Content-Type "${contentType}"; body starts with ${
      JSON.stringify(excerptOf(excerpt))
    }`,
    { excerpt: excerptOf(excerpt) },
  );
}

/**
 * Delivers what a parsed root part says: inline documents, errors for the
 * instances not returned. `received` maps content ids to part bodies already
 * consumed; every document referencing a part that never came fails with a
 * truncation error.
 */
function* settle(
  parsed: RetrieveResponse,
  delivered: Map<string, true>,
  accounting: Accounting,
  refs: readonly InstanceReference[],
  logger: Rad69Logger,
): Generator<InstanceOutcome, void, undefined> {
  const warnings = parsed.errors.filter((e) => e.isWarning);
  for (const doc of parsed.documents) {
    if (doc.inline === undefined) continue;
    const ref = accounting.pending.get(doc.documentUniqueId);
    if (!ref) continue;
    const o = deliverBytes(ref, doc, doc.inline, warnings, accounting);
    if (o) yield o;
  }
  for (const doc of parsed.documents) {
    const ref = accounting.pending.get(doc.documentUniqueId);
    if (!ref || delivered.has(doc.documentUniqueId)) continue;
    if (doc.contentId !== undefined || doc.inline === undefined) {
      const o = accounting.fail(
        ref,
        new TruncatedResponseError(
          doc.contentId !== undefined
            ? `The part "${doc.contentId}" holding instance "${ref.instanceUid}" never arrived`
            : `The server listed instance "${ref.instanceUid}" without its document`,
          { instance: ref },
        ),
      );
      if (o) yield o;
    }
  }
  const errors = parsed.errors.filter((e) => !e.isWarning);
  const requested = new Set(refs.map((r) => r.instanceUid));
  const general = errors.filter((e) =>
    !requested.has(e.location.trim()) &&
    ![...requested].some((uid) => containsUid(e.context, uid))
  );
  for (const ref of [...accounting.pending.values()]) {
    const own = errorsFor(errors, ref.instanceUid);
    const chosen = own[0] ?? general[0];
    const error = chosen
      ? registryErrorToError(chosen, ref)
      : new DocumentNotReturnedError(
        `Server answered ${parsed.status} but did not return instance "${ref.instanceUid}" and gave no error for it`,
        { instance: ref },
      );
    if (!chosen) logger.warn?.(error.message);
    const o = accounting.fail(ref, error);
    if (o) yield o;
  }
}

function deliverBytes(
  ref: InstanceReference,
  doc: DocumentResponse,
  bytes: Uint8Array,
  warnings: readonly RegistryError[],
  accounting: Accounting,
): InstanceOutcome | undefined {
  let instance: Rad69Instance;
  try {
    const dataset = decodeInstance(bytes, doc.documentUniqueId, ref);
    const own = warnings.filter((w) =>
      w.location.trim() === ref.instanceUid ||
      containsUid(w.context, ref.instanceUid) ||
      (w.location.trim() === "" && !/\d+\.\d+\.\d+/.test(w.context))
    );
    instance = new Rad69Instance({
      ref,
      bytes,
      dataset,
      warnings: own,
      repositoryUniqueId: doc.repositoryUniqueId,
      mimeType: doc.mimeType,
    });
  } catch (error) {
    if (error instanceof Rad69Error) return accounting.fail(ref, error);
    throw error;
  }
  return accounting.deliver(instance);
}

async function* handleMultipart(
  response: Response,
  contentType: string,
  refs: readonly InstanceReference[],
  accounting: Accounting,
  options: RetrieveBatchOptions,
  logger: Rad69Logger,
  onProgress: () => void,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const ct = parseMultipartContentType(contentType);
  const maxRoot = options.maxRootPartSize ?? 64 * 2 ** 20;
  const maxPart = options.maxPartSize ?? 2 ** 31;
  const start = ct.start;
  const isRoot = (headers: Headers, index: number) => {
    if (start === undefined) return index === 0;
    const id = headers.get("content-id");
    return id !== null && stripAngleBrackets(id) === start;
  };
  using parser = new MultipartParser(ct.boundary, {
    engine: options.engine ?? "wasm",
    windowSize: options.chunkSize ?? 5 * 2 ** 20,
    maxHeaderBytes: options.maxHeaderBytes ?? 16384,
    maxHeaderCount: options.maxHeaderCount ?? 64,
    // Before the root is known, any part may be the root: cap at the larger.
    maxPartSize: (headers, index) =>
      isRoot(headers, index) ? Math.min(maxRoot, maxPart) : maxPart,
  });

  let root: RetrieveResponse | undefined;
  const early: MultipartPart[] = [];
  const byContentId = new Map<string, DocumentResponse[]>();
  const byOrder: DocumentResponse[] = [];
  let orderMode = false;
  let orderNext = 0;
  const delivered = new Map<string, true>();
  let sawContentId = false;
  let warnings: RegistryError[] = [];

  const onRoot = (part: MultipartPart) => {
    const body = decodePartBody(part);
    root = parseRetrieveResponse(body, { httpStatus: response.status });
    warnings = root.errors.filter((e) => e.isWarning);
    for (const doc of root.documents) {
      if (doc.contentId !== undefined) {
        const list = byContentId.get(doc.contentId) ?? [];
        list.push(doc);
        byContentId.set(doc.contentId, list);
      }
      if (doc.inline === undefined) byOrder.push(doc);
    }
    orderMode = !part.headers.has("content-id");
    logger.debug?.(
      `Root part: ${root.status}, ${root.documents.length} document(s), ${root.errors.length} error(s)`,
    );
  };

  const onBinary = (part: MultipartPart): InstanceOutcome[] => {
    const rawId = part.headers.get("content-id");
    let docs: DocumentResponse[] | undefined;
    if (rawId !== null) {
      sawContentId = true;
      docs = byContentId.get(normalizeContentId(rawId));
    } else if (orderMode && !sawContentId) {
      const doc = byOrder[orderNext++];
      docs = doc ? [doc] : undefined;
    }
    if (!docs || docs.length === 0) {
      logger.debug?.(
        `Ignoring part ${part.index + 1} (${
          rawId ?? "no Content-ID"
        }): no DocumentResponse references it`,
      );
      return [];
    }
    const out: InstanceOutcome[] = [];
    let bytes: Uint8Array | undefined;
    for (const doc of docs) {
      const ref = accounting.pending.get(doc.documentUniqueId);
      if (!ref) continue;
      try {
        bytes ??= decodePartBody(part);
      } catch (error) {
        if (!(error instanceof Rad69Error)) throw error;
        const o = accounting.fail(ref, error);
        if (o) out.push(o);
        continue;
      }
      delivered.set(doc.documentUniqueId, true);
      const o = deliverBytes(ref, doc, bytes, warnings, accounting);
      if (o) out.push(o);
    }
    return out;
  };

  const ready: InstanceOutcome[] = [];
  const onPart = (part: MultipartPart) => {
    if (root === undefined) {
      if (isRoot(part.headers, part.index)) {
        onRoot(part);
        for (const p of early.splice(0)) ready.push(...onBinary(p));
      } else {
        early.push(part);
      }
      return;
    }
    ready.push(...onBinary(part));
  };

  const body = response.body;
  if (!body) {
    throw new TruncatedResponseError(
      `Server at ${options.url} sent an empty multipart body`,
    );
  }
  let reader:
    | ReadableStreamBYOBReader
    | ReadableStreamDefaultReader<Uint8Array>;
  let byob = true;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    reader = body.getReader();
    byob = false;
  }
  let buffer: ArrayBuffer = new ArrayBuffer(READ_SIZE);
  try {
    for (;;) {
      let chunk: Uint8Array | undefined;
      if (byob) {
        const r = await (reader as ReadableStreamBYOBReader).read(
          new Uint8Array(buffer, 0, READ_SIZE),
        );
        if (r.done) break;
        chunk = r.value;
        buffer = chunk.buffer as ArrayBuffer;
      } else {
        const r = await (reader as ReadableStreamDefaultReader<Uint8Array>)
          .read();
        if (r.done) break;
        chunk = r.value;
      }
      onProgress();
      options.onBytes?.(chunk.length);
      parser.push(chunk, onPart);
      if (ready.length > 0) yield* ready.splice(0);
      if (parser.done) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  try {
    parser.finish();
  } catch (error) {
    if (!(error instanceof TruncatedResponseError)) throw error;
    // The body ended early. Settle what the root said is missing, the rest
    // fails with the truncation.
    if (root) {
      yield* settleKnownFailures(root, accounting, refs);
    }
    const message = root === undefined
      ? `${error.message}; the SOAP root part never arrived`
      : error.message;
    yield* accounting.failAll((ref) =>
      new TruncatedResponseError(
        `Instance "${ref.instanceUid}" was not delivered: ${message}`,
        { instance: ref, cause: error },
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
  yield* settle(root, delivered, accounting, refs, logger);
}

/** Fails the instances for which the root part already gave an error. */
function* settleKnownFailures(
  root: RetrieveResponse,
  accounting: Accounting,
  refs: readonly InstanceReference[],
): Generator<InstanceOutcome, void, undefined> {
  const errors = root.errors.filter((e) => !e.isWarning);
  const returned = new Set(root.documents.map((d) => d.documentUniqueId));
  for (const ref of refs) {
    if (returned.has(ref.instanceUid)) continue;
    const own = errorsFor(errors, ref.instanceUid)[0];
    if (!own) continue;
    const o = accounting.fail(ref, registryErrorToError(own, ref));
    if (o) yield o;
  }
}
