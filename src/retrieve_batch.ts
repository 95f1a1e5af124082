/**
 * One RAD-69 exchange: build the request, POST it, stream the answer, and
 * account for every requested instance. This is the unit of work that the
 * client runs per series (or bin) and that workers run off the main thread.
 *
 * @module
 */

import {
  DocumentNotReturnedError,
  LimitExceededError,
  Rad69Error,
  Rad69HttpError,
  Rad69NetworkError,
  Rad69ProtocolError,
  Rad69ServerError,
  type SoapFaultError,
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
} from "./multipart/content_type.ts";
import { normalizeContentId } from "./multipart/content_id.ts";
import {
  MultipartParser,
  type MultipartPart,
} from "./multipart/multipart_parser.ts";
import type { ScanEngineKind } from "./multipart/engines.ts";
import { type Rad69Logger, silentLogger } from "./logger.ts";
import {
  collectSecrets,
  redactError,
  redactLogger,
  redactUrl,
  stripUserinfo,
} from "./redact.ts";
import { decodeBase64 } from "./_base64.ts";

/**
 * What became of one requested instance: `delivered` with the instance, or
 * `failed` with the reason. Check `status` to narrow it.
 *
 * @example Describe every outcome of a call
 * ```ts
 * import assert from "node:assert/strict";
 * import { type InstanceOutcome, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * function describe(outcome: InstanceOutcome): string {
 *   return outcome.status === "delivered"
 *     ? `delivered (${outcome.instance.bytes.length} bytes)`
 *     : `failed: ${outcome.error.name}`;
 * }
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * const client = new Rad69Client({ url: server.url });
 * const lines: string[] = [];
 * for await (const outcome of client.retrieve([kept!, gone!])) {
 *   lines.push(describe(outcome));
 * }
 * assert.deepEqual(lines, [
 *   `delivered (${kept!.bytes.length} bytes)`,
 *   "failed: XDSMissingDocumentError",
 * ]);
 * ```
 */
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

/**
 * Size limits applied to an answer.
 *
 * @example Refuse parts larger than expected
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   LimitExceededError,
 *   Rad69Client,
 *   type ResponseLimits,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const limits: ResponseLimits = { maxRootPartSize: 64 * 1024, maxPartSize: 1024 };
 * const client = new Rad69Client({ url: server.url, ...limits, retries: 0 });
 * const [outcome] = await Array.fromAsync(client.retrieve(study));
 * assert.equal(outcome!.status, "failed");
 * assert.ok(outcome!.status === "failed" &&
 *   outcome!.error instanceof LimitExceededError);
 * ```
 */
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

/**
 * Options of {@linkcode retrieveBatch}.
 *
 * @example One exchange with the TypeScript engine
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrieveBatch, type RetrieveBatchOptions } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const options: RetrieveBatchOptions = {
 *   url: server.url,
 *   engine: "ts",
 *   headers: { "x-request-id": "42" },
 *   timeoutMs: 10_000,
 * };
 * const outcomes = await Array.fromAsync(retrieveBatch(study, options));
 * assert.deepEqual(outcomes.map((o) => o.status), ["delivered", "delivered"]);
 * assert.equal(server.requests[0]!.headers.get("x-request-id"), "42");
 * ```
 */
export interface RetrieveBatchOptions
  extends
    Omit<BuildRetrieveRequestOptions, "url" | "messageId">,
    ResponseLimits {
  /** The endpoint URL. */
  url: string;
  /** Extra request headers (e.g. Authorization). */
  headers?: HeadersInit;
  /**
   * The fetch to use.
   *
   * @default {globalThis.fetch}
   */
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
  /**
   * Where diagnostics go (redacted first).
   *
   * @default {silentLogger}
   */
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
/** Gather reads up to this many bytes before pushing them to the parser. */
const FILL_TARGET = 512 * 1024;
/** A read this long means more data was probably ready at once. */
const FULL_READ = 64 * 1024;
const EXCERPT_BYTES = 300;

/**
 * Turns a RegistryError into the error reported for an instance.
 *
 * @param error The RegistryError.
 * @param ref The instance it is about.
 * @returns A `XDSMissingDocumentError` for "not found" codes, else a
 * `Rad69ServerError` that keeps the code.
 *
 * @example Map the errors of a parsed answer
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type RegistryError,
 *   registryErrorToError,
 *   XDSMissingDocumentError,
 * } from "@rad69/client";
 *
 * const ref = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
 * const notFound: RegistryError = {
 *   code: "XDSDocumentUniqueIdError",
 *   context: "Unknown document",
 *   location: "1.2.3.4",
 *   severity: "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error",
 *   isWarning: false,
 * };
 * const missing = registryErrorToError(notFound, ref);
 * assert.ok(missing instanceof XDSMissingDocumentError);
 * assert.equal(missing.instance, ref);
 * const busy = registryErrorToError({ ...notFound, code: "XDSRepositoryBusy" }, ref);
 * assert.ok(!(busy instanceof XDSMissingDocumentError));
 * assert.equal(busy.code, "XDSRepositoryBusy");
 * ```
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
    const text = new TextDecoder("latin1").decode(part.body);
    const bytes = decodeBase64(text);
    if (bytes === undefined) {
      throw new Rad69ProtocolError(
        `Part ${part.index + 1} is not valid base64`,
        { excerpt: text.slice(0, EXCERPT_BYTES) },
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

function excerptOf(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(0, EXCERPT_BYTES),
  );
}

/**
 * Reads a whole (small) body, up to `max` bytes, reporting each chunk to
 * the exchange (which re-arms the idle timer).
 */
async function readCapped(
  response: Response,
  max: number,
  what: string,
  exchange: Exchange,
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

/** Joins chunks into one buffer of `length` bytes (later bytes dropped). */
function concatBytes(
  chunks: readonly Uint8Array[],
  length: number,
): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, length - at);
    out.set(take === c.length ? c : c.subarray(0, take), at);
    at += take;
    if (at >= length) break;
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
  return concatBytes(chunks, Math.min(total, max));
}

function looksLikeXml(contentType: string | null, bytes: Uint8Array): boolean {
  if (contentType && /xml/i.test(contentType)) return true;
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith("<");
}

/**
 * Looks for a SOAP Fault in the root part of a (CXF-style, one-part)
 * multipart error answer, from its first bytes. Never throws.
 */
function faultInMultipart(
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
function isRootPart(
  start: string | undefined,
  headers: Headers,
  index: number,
): boolean {
  if (start === undefined) return index === 0;
  const id = headers.get("content-id");
  return id !== null && normalizeContentId(id) === start;
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
  readonly #secrets: readonly string[];

  constructor(refs: readonly InstanceReference[], secrets: readonly string[]) {
    this.pending = new Map(refs.map((r) => [r.instanceUid, r]));
    this.#secrets = secrets;
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
    return { status: "failed", ref, error: redactError(error, this.#secrets) };
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
 * The messages of an error and its causes ("fetch failed: error sending
 * request…: invalid peer certificate: UnknownIssuer"), so that the reason
 * Deno hides in `cause` is shown.
 */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current = error;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    const message = current instanceof Error
      ? current.message
      : String(current);
    if (message !== "" && !parts.some((p) => p.includes(message))) {
      parts.push(message);
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}

/**
 * What the steps of one exchange share: the URL as it may be printed, the
 * secrets to keep out of messages, the logger, and the watchdog that turns
 * a late first byte or an idle body into a network error. The watchdog is
 * paused while outcomes are handed to the caller, so a slow consumer is
 * never taken for a stalled server.
 */
class Exchange {
  /** The endpoint URL without credentials. */
  readonly url: string;
  readonly secrets: readonly string[];
  readonly logger: Rad69Logger;
  readonly #options: RetrieveBatchOptions;
  readonly #controller: AbortController;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut: string | undefined;

  constructor(options: RetrieveBatchOptions, controller: AbortController) {
    this.#options = options;
    this.#controller = controller;
    this.url = redactUrl(options.url);
    this.secrets = collectSecrets(options.url, options.headers);
    this.logger = redactLogger(options.logger ?? silentLogger, this.secrets);
  }

  /** When the watchdog last saw activity (performance.now()). */
  #lastActivity = 0;

  #arm(ms: number, what: string): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastActivity = performance.now();
    if (ms > 0) this.#schedule(ms, ms, what);
  }

  /**
   * Fires after `delay` ms; if there was activity meanwhile, waits again for
   * the rest of the window instead (so activity costs no timer churn).
   */
  #schedule(delay: number, ms: number, what: string): void {
    this.#timer = setTimeout(() => {
      const quiet = performance.now() - this.#lastActivity;
      if (quiet < ms) {
        this.#schedule(Math.max(1, ms - quiet), ms, what);
        return;
      }
      this.#timer = undefined;
      this.#timedOut = what;
      this.#controller.abort(new DOMException(what, "TimeoutError"));
    }, delay);
  }

  /** Starts the connect and first-byte timeout. */
  armFirstByte(): void {
    const ms = this.#options.timeoutMs ?? 60_000;
    this.#arm(ms, `got no response headers within ${ms} ms`);
  }

  /** (Re)starts the idle timeout. */
  armIdle(): void {
    const ms = this.#options.idleTimeoutMs ?? 60_000;
    this.#arm(ms, `stalled: no data for ${ms} ms`);
  }

  /** Stops the watchdog (while the consumer has the outcomes, or for good). */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Notes body bytes: keeps the idle timeout alive and reports them. */
  progress(bytes: number): void {
    if (this.#timer === undefined) this.armIdle();
    else this.#lastActivity = performance.now();
    this.#options.onBytes?.(bytes);
  }

  /** Awaits a transport operation, turning its failure into a typed one. */
  async read<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (cause) {
      throw this.transportError(cause);
    }
  }

  /**
   * The error for a failed fetch or body read: the caller's abort reason is
   * rethrown; anything else is a (transient) network error.
   */
  transportError(cause: unknown): Rad69Error {
    const userSignal = this.#options.signal;
    if (userSignal?.aborted) throw userSignal.reason;
    if (cause instanceof Rad69Error) return cause;
    if (this.#timedOut) {
      return new Rad69NetworkError(`Request to ${this.url} ${this.#timedOut}`, {
        cause,
      });
    }
    return new Rad69NetworkError(
      `Connection to ${this.url} failed: ${describe(cause)}`,
      { cause },
    );
  }

  /**
   * The error for anything that stopped the exchange: the caller's abort
   * reason is rethrown; typed errors are kept; anything else (not raised by
   * the transport, which `read` already typed) is reported as a protocol
   * error that keeps it as `cause`.
   */
  failure(cause: unknown): Rad69Error {
    const userSignal = this.#options.signal;
    if (userSignal?.aborted) throw userSignal.reason;
    if (cause instanceof Rad69Error) return cause;
    if (this.#timedOut) return this.transportError(cause);
    return new Rad69ProtocolError(
      `Cannot process the answer from ${this.url}: ${describe(cause)}`,
      { cause },
    );
  }
}

/**
 * Runs one RAD-69 exchange for a batch of instances and yields one outcome
 * per requested instance: delivered (as its part arrives) or failed with a
 * reason (after the answer ends). It never throws for a server, protocol or
 * network failure: those become failures of the instances concerned. It
 * throws only when `signal` aborts.
 *
 * Credentials never reach an error or a log line: the user info and secret
 * query parameters of the URL, and the values of sensitive headers
 * (`Authorization`, `Cookie`, API keys…), are redacted from every message,
 * URL and excerpt, even when the server echoes them. The SOAP `wsa:To` is
 * sent without the URL's user info.
 *
 * @param refs The instances to request in one SOAP request (validated UIDs).
 * @param options The endpoint, transport and request fields.
 * @returns The outcomes, one per distinct requested instance.
 * @throws {DOMException} When `signal` aborts (its reason is rethrown).
 *
 * @example One exchange with a server that misses an instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrieveBatch } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({
 *   instances: [kept!],
 *   dialect: "nist", // says nothing about missing documents
 * });
 * const outcomes: string[] = [];
 * for await (const outcome of retrieveBatch([kept!, gone!], { url: server.url })) {
 *   outcomes.push(outcome.status === "failed" ? outcome.error.name : outcome.status);
 * }
 * assert.deepEqual(outcomes, ["delivered", "DocumentNotReturnedError"]);
 * assert.equal(server.requests.length, 1);
 * ```
 */
export async function* retrieveBatch(
  refs: readonly InstanceReference[],
  options: RetrieveBatchOptions,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const userSignal = options.signal;
  const controller = new AbortController();
  const exchange = new Exchange(options, controller);
  const logger = exchange.logger;
  const accounting = new Accounting(refs, exchange.secrets);
  const request = buildRetrieveRequest(refs, {
    ...options,
    url: stripUserinfo(options.url),
  });
  userSignal?.throwIfAborted();
  const signal = userSignal
    ? AbortSignal.any([userSignal, controller.signal])
    : controller.signal;

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
    `POST ${exchange.url}: ${refs.length} instance(s), MessageID ${request.messageId}`,
  );
  let response: Response;
  exchange.armFirstByte();
  try {
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method: "POST",
      headers,
      body: request.body as Uint8Array<ArrayBuffer>,
      signal,
      // Never follow: a redirect could downgrade https to http, or carry
      // the request and its credentials to another host.
      redirect: "manual",
    };
    if (options.client) init.client = options.client;
    response = await fetchFn(options.url, init);
  } catch (cause) {
    exchange.pause();
    const error = exchange.transportError(cause);
    yield* accounting.failAll(() => error);
    return;
  }
  try {
    exchange.armIdle();
    logger.debug?.(
      `HTTP ${response.status} from ${exchange.url}: ${
        response.headers.get("content-type") ?? "no Content-Type"
      }`,
    );
    yield* handleResponse(response, refs, accounting, options, exchange);
  } catch (cause) {
    exchange.pause();
    const error = exchange.failure(cause);
    logger.debug?.(`Exchange with ${exchange.url} failed: ${error.message}`);
    yield* accounting.failAll(() => error);
  } finally {
    exchange.pause();
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
  exchange: Exchange,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const contentType = response.headers.get("content-type");
  const maxRoot = options.maxRootPartSize ?? 64 * 2 ** 20;
  const url = exchange.url;
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get("location");
    const target = location === null ? "nowhere" : `"${redactUrl(location)}"`;
    throw new Rad69HttpError(
      `Server at ${url} redirected (HTTP ${response.status}) to ${target}; redirects are not followed, so that the request and its credentials stay on the configured endpoint: set url to the new location`,
      { status: response.status, url, bodyExcerpt: "" },
    );
  }
  if (!response.ok) {
    const excerpt = await readExcerpt(response);
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    if (looksLikeXml(contentType, excerpt)) {
      const fault = findSoapFault(excerpt, response.status) ??
        faultInMultipart(excerpt, contentType, response.status);
      if (fault) {
        if (retryAfter !== undefined) fault.retryAfterSeconds = retryAfter;
        throw fault;
      }
    }
    const text = excerptOf(excerpt);
    const httpOptions: {
      status: number;
      url: string;
      bodyExcerpt: string;
      retryAfterSeconds?: number;
    } = { status: response.status, url, bodyExcerpt: text };
    if (retryAfter !== undefined) httpOptions.retryAfterSeconds = retryAfter;
    throw new Rad69HttpError(
      `Server at ${url} answered HTTP ${response.status} ${response.statusText}: ${
        JSON.stringify(text.slice(0, 200))
      }`,
      httpOptions,
    );
  }
  if (!contentType) {
    const excerpt = await readExcerpt(response, EXCERPT_BYTES);
    throw new Rad69ProtocolError(
      `Server at ${url} answered without a Content-Type; body starts with ${
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
      exchange,
    );
    return;
  }
  if (
    essence === "application/soap+xml" || essence === "text/xml" ||
    essence === "application/xml" || essence === "application/xop+xml"
  ) {
    const body = await readCapped(
      response,
      maxRoot,
      `The SOAP answer from ${url}`,
      exchange,
    );
    exchange.pause();
    const parsed = parseRetrieveResponse(body, { httpStatus: response.status });
    yield* settle(parsed, new Map(), accounting, refs, exchange.logger);
    return;
  }
  const excerpt = await readExcerpt(response, EXCERPT_BYTES);
  throw new Rad69ProtocolError(
    `Server at ${url} answered with unexpected Content-Type "${contentType}"; body starts with ${
      JSON.stringify(excerptOf(excerpt))
    }`,
    { excerpt: excerptOf(excerpt) },
  );
}

/**
 * Delivers what a parsed root part says once the answer has ended complete:
 * inline documents, errors for the instances not returned. `delivered`
 * lists the documents whose part was consumed; every document referencing a
 * part that is not in the (complete) answer fails with a protocol error.
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
        new Rad69ProtocolError(
          doc.contentId !== undefined
            ? `The part "${doc.contentId}" holding instance "${ref.instanceUid}" is not in the answer, which ended complete`
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
  exchange: Exchange,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  const logger = exchange.logger;
  const ct = parseMultipartContentType(contentType);
  const maxRoot = options.maxRootPartSize ?? 64 * 2 ** 20;
  const maxPart = options.maxPartSize ?? 2 ** 31;
  const start = ct.start;
  const isRoot = (headers: Headers, index: number) =>
    isRootPart(start, headers, index);
  // Whether the part being read is capped by maxRootPartSize.
  let rootCapped = false;
  using parser = new MultipartParser(ct.boundary, {
    engine: options.engine ?? "wasm",
    windowSize: options.chunkSize ?? 5 * 2 ** 20,
    maxHeaderBytes: options.maxHeaderBytes ?? 16384,
    maxHeaderCount: options.maxHeaderCount ?? 64,
    maxPartSize: (headers, index) => {
      const capped = root === undefined && isRoot(headers, index);
      rootCapped = capped && maxRoot < maxPart;
      return capped ? Math.min(maxRoot, maxPart) : maxPart;
    },
  });
  // Parts held until the root arrives (a root sent last): at most one per
  // requested instance plus a few unreferenced ones, so a server cannot
  // make the client buffer an unbounded answer.
  const maxEarly = refs.length + 8;

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

  const ready: InstanceOutcome[] = [];
  const onBinary = (part: MultipartPart): void => {
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
      return;
    }
    let bytes: Uint8Array | undefined;
    for (const doc of docs) {
      const ref = accounting.pending.get(doc.documentUniqueId);
      if (!ref) continue;
      try {
        bytes ??= decodePartBody(part);
      } catch (error) {
        if (!(error instanceof Rad69Error)) throw error;
        const o = accounting.fail(ref, error);
        if (o) ready.push(o);
        continue;
      }
      delivered.set(doc.documentUniqueId, true);
      const o = deliverBytes(ref, doc, bytes, warnings, accounting);
      if (o) ready.push(o);
    }
  };

  const onPart = (part: MultipartPart) => {
    if (root === undefined) {
      if (isRoot(part.headers, part.index)) {
        onRoot(part);
        for (const p of early.splice(0)) onBinary(p);
      } else if (early.length >= maxEarly) {
        throw new Rad69ProtocolError(
          `Multipart answer from ${exchange.url} sent more than ${maxEarly} parts before its SOAP root part`,
        );
      } else {
        early.push(part);
      }
      return;
    }
    onBinary(part);
  };

  const body = response.body;
  if (!body) {
    throw new TruncatedResponseError(
      `Server at ${exchange.url} sent an empty multipart body`,
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
  let ended = false;
  try {
    for (;;) {
      let chunk: Uint8Array | undefined;
      if (byob) {
        // Gather several reads into the buffer before one push (fewer scans
        // and copies), but push at once when the network has no more ready
        // (a short read), so latency-bound transfers are not delayed.
        let filled = 0;
        while (filled < FILL_TARGET) {
          const r = await exchange.read(
            (reader as ReadableStreamBYOBReader).read(
              new Uint8Array(buffer, filled, READ_SIZE - filled),
            ),
          );
          if (r.done) {
            ended = true;
            if (r.value) buffer = r.value.buffer as ArrayBuffer;
            break;
          }
          buffer = r.value.buffer as ArrayBuffer;
          filled += r.value.length;
          exchange.progress(r.value.length);
          if (r.value.length < FULL_READ) break;
        }
        if (filled === 0) break;
        chunk = new Uint8Array(buffer, 0, filled);
      } else {
        const r = await exchange.read(
          (reader as ReadableStreamDefaultReader<Uint8Array>).read(),
        );
        if (r.done) break;
        chunk = r.value;
        exchange.progress(chunk.length);
      }
      try {
        parser.push(chunk, onPart);
      } catch (error) {
        // Parts completed before the failure are already accounted for.
        exchange.pause();
        yield* ready.splice(0);
        if (
          rootCapped && error instanceof LimitExceededError &&
          error.limit === "maxPartSize"
        ) {
          throw new LimitExceededError(
            "maxRootPartSize",
            maxRoot,
            `The SOAP root part of the answer from ${exchange.url}`,
          );
        }
        throw error;
      }
      if (ready.length > 0) {
        // The consumer's pace is not the server's: no idle timeout meanwhile.
        exchange.pause();
        yield* ready.splice(0);
        exchange.armIdle();
      }
      if (parser.done || ended) break;
    }
  } finally {
    exchange.pause();
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  try {
    parser.finish();
  } catch (error) {
    if (!(error instanceof TruncatedResponseError)) throw error;
    // The body ended early. Settle what the root said is missing, the rest
    // fails with the truncation.
    yield* ready.splice(0);
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
