/**
 * The RAD-69 client.
 *
 * @module
 */

import {
  DocumentNotReturnedError,
  IncompleteRetrieveError,
  type Rad69Error,
} from "./errors.ts";
import type { Rad69Instance } from "./instance.ts";
import { type Rad69Logger, warningLogger } from "./logger.ts";
import type { ScanEngineKind } from "./multipart/engines.ts";
import {
  type InstanceReference,
  type Rad69Reference,
  toInstanceRefs,
} from "./references.ts";
import type { InstanceOutcome, ResponseLimits } from "./retrieve_batch.ts";
import {
  type AttemptReport,
  retrieveWithRetries,
  type RetryOptions,
} from "./retry.ts";

/** A class of errors, as listed in `errorsToIgnore`. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Rad69Error;

/** Options of {@linkcode Rad69Client}. */
export interface Rad69ClientOptions extends ResponseLimits {
  /** The RAD-69 endpoint, e.g. `https://pacs:8443/dcm4chee-arc/xdsi/ImagingDocumentSource`. */
  url: string | URL;
  /** Extra request headers, e.g. `Authorization`. Never logged. */
  headers?: HeadersInit;
  /** The fetch to use (e.g. one that adds a session). @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /**
   * A `Deno.HttpClient` for mutual TLS, a custom CA or a proxy. It cannot be
   * handed to worker threads: prefer `tls` when `concurrency` > 1.
   */
  client?: Deno.HttpClient;
  /**
   * TLS material as PEM text: a client certificate and key for mutual TLS,
   * and extra CA certificates to trust. The client builds its own
   * `Deno.HttpClient` from it (in every worker, too). Server certificates are
   * always verified.
   */
  tls?: Rad69TlsOptions;
  /**
   * One request per series (kinder to servers, and what the reference
   * library does); `false` sends everything in one request.
   *
   * @default {true}
   */
  requestPerSeries?: boolean;
  /**
   * The most instances in one request; larger series are split into bins.
   * 0 means no limit.
   *
   * @default {0}
   */
  maxInstancesPerRequest?: number;
  /**
   * Errors of these classes (or subclasses) are logged and the instance
   * skipped, instead of thrown by `datasets()`. Applied per instance.
   *
   * @default {[]}
   */
  errorsToIgnore?: readonly ErrorClass[];
  /**
   * Transfer syntaxes the caller accepts, in preference order.
   *
   * @default {["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]}
   */
  transferSyntaxes?: readonly string[];
  /** The RepositoryUniqueId sent for instances that carry none. */
  repositoryUniqueId?: string;
  /** The HomeCommunityId sent for instances that carry none. */
  homeCommunityId?: string;
  /**
   * Send the request MTOM-packaged (multipart/related), for strict servers.
   *
   * @default {false}
   */
  mtom?: boolean;
  /**
   * How many times a transient failure is retried (only the instances not
   * yet delivered are asked for again).
   *
   * @default {3}
   */
  retries?: number;
  /** First backoff delay in ms. @default {500} */
  retryBaseDelayMs?: number;
  /** Longest backoff delay in ms. @default {30000} */
  retryMaxDelayMs?: number;
  /** Milliseconds to wait for response headers. 0 disables. @default {60000} */
  timeoutMs?: number;
  /** Milliseconds without body bytes before a stall. 0 disables. @default {60000} */
  idleTimeoutMs?: number;
  /**
   * The splitter's window in bytes.
   *
   * @default {5242880}
   */
  chunkSize?: number;
  /**
   * The multipart delimiter search engine.
   *
   * @default {"wasm"}
   */
  engine?: ScanEngineKind;
  /** Stops every call of this client. */
  signal?: AbortSignal;
  /** Where diagnostics go. @default {warnings to the console} */
  logger?: Rad69Logger;
}

/** TLS material for mutual TLS and private CAs, as PEM text. */
export interface Rad69TlsOptions {
  /** The client certificate chain (PEM), for mutual TLS. */
  readonly cert?: string;
  /** The client private key (PEM), for mutual TLS. */
  readonly key?: string;
  /** Extra CA certificates (PEM) to trust, besides the system's. */
  readonly caCerts?: readonly string[];
}

/**
 * Creates a `Deno.HttpClient` from PEM TLS material.
 *
 * @param tls The certificate, key and CA certificates.
 * @returns A client; the caller closes it.
 * @throws {TypeError} When only one of `cert` and `key` is given.
 */
export function createTlsHttpClient(tls: Rad69TlsOptions): Deno.HttpClient {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError(
      "Invalid tls option: cert and key must be given together",
    );
  }
  const options: Deno.CreateHttpClientOptions = {};
  if (tls.caCerts && tls.caCerts.length > 0) options.caCerts = [...tls.caCerts];
  if (tls.cert !== undefined && tls.key !== undefined) {
    return Deno.createHttpClient({
      ...options,
      cert: tls.cert,
      key: tls.key,
    });
  }
  return Deno.createHttpClient(options);
}

/** Per-call options. */
export interface RetrieveCallOptions {
  /** Stops this call (combined with the client's signal). */
  signal?: AbortSignal;
  /** Called after every attempt of every request. */
  onAttempt?: (report: AttemptReport) => void;
  /** Called with the byte count of every body chunk read. */
  onBytes?: (bytes: number) => void;
}

/**
 * Groups instances into requests: per series (first-seen order) or all at
 * once, each capped at `max` instances (0: no cap).
 *
 * @param refs The instances.
 * @param options Whether to split per series, and the cap.
 * @returns The batches, each one request.
 *
 * @example
 * ```ts
 * import { planBatches } from "@rad69/client";
 * const batches = planBatches([
 *   { studyUid: "1", seriesUid: "1.1", instanceUid: "1.1.1" },
 *   { studyUid: "1", seriesUid: "1.2", instanceUid: "1.2.1" },
 *   { studyUid: "1", seriesUid: "1.1", instanceUid: "1.1.2" },
 * ], { requestPerSeries: true });
 * console.assert(batches.length === 2 && batches[0]!.length === 2);
 * ```
 */
export function planBatches(
  refs: readonly InstanceReference[],
  options: { requestPerSeries?: boolean; maxInstancesPerRequest?: number } = {},
): InstanceReference[][] {
  const perSeries = options.requestPerSeries ?? true;
  const max = options.maxInstancesPerRequest ?? 0;
  if (!Number.isInteger(max) || max < 0) {
    throw new RangeError(
      `Invalid maxInstancesPerRequest ${max}: expected a whole number >= 0`,
    );
  }
  const groups: InstanceReference[][] = [];
  if (perSeries) {
    const bySeries = new Map<string, InstanceReference[]>();
    for (const ref of refs) {
      const key = `${ref.studyUid}|${ref.seriesUid}`;
      let group = bySeries.get(key);
      if (!group) {
        group = [];
        bySeries.set(key, group);
        groups.push(group);
      }
      group.push(ref);
    }
  } else if (refs.length > 0) {
    groups.push([...refs]);
  }
  if (max === 0) return groups;
  const out: InstanceReference[][] = [];
  for (const group of groups) {
    for (let i = 0; i < group.length; i += max) {
      out.push(group.slice(i, i + max));
    }
  }
  return out;
}

function checkCount(name: string, value: number | undefined, min = 0): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Invalid option ${name}: expected a number >= ${min}, got ${value}`,
    );
  }
}

/**
 * A client for one RAD-69 Imaging Document Source.
 *
 * @example Stream the datasets of a series
 * ```ts ignore
 * import { Rad69Client } from "@rad69/client";
 * const client = new Rad69Client({ url: "https://pacs/xdsi/ImagingDocumentSource" });
 * for await (const instance of client.datasets([
 *   { studyUid: "1.2.3", seriesUid: "1.2.3.4", instances: ["1.2.3.4.5"] },
 * ])) {
 *   console.log(instance.ref.instanceUid, instance.dataset.string("x00100010"));
 * }
 * ```
 */
export class Rad69Client implements Disposable {
  #options: Rad69ClientOptions;
  #url: string;
  #tlsClient: Deno.HttpClient | undefined;

  /**
   * Creates a client. Nothing is sent until a call is iterated.
   *
   * @param options The endpoint and how to talk to it.
   * @throws {TypeError} When the URL is not http(s).
   * @throws {RangeError} When a numeric option is out of range.
   */
  constructor(options: Rad69ClientOptions) {
    if (!options || options.url === undefined) {
      throw new TypeError("Cannot create Rad69Client: option url is required");
    }
    let url: URL;
    try {
      url = new URL(String(options.url));
    } catch {
      throw new TypeError(
        `Cannot create Rad69Client: url "${options.url}" is not a valid URL`,
      );
    }
    if (options.tls) createTlsHttpClient(options.tls).close();
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(
        `Cannot create Rad69Client: url "${url}" must be http or https`,
      );
    }
    checkCount("retries", options.retries);
    checkCount("timeoutMs", options.timeoutMs);
    checkCount("idleTimeoutMs", options.idleTimeoutMs);
    checkCount("chunkSize", options.chunkSize, 1024);
    checkCount("maxInstancesPerRequest", options.maxInstancesPerRequest);
    checkCount("maxRootPartSize", options.maxRootPartSize, 1);
    checkCount("maxPartSize", options.maxPartSize, 1);
    this.#options = { ...options };
    this.#url = url.href;
  }

  /**
   * Releases what the client holds (the HTTP client built from `tls`).
   * A `client` passed in options is left open: its owner closes it.
   */
  [Symbol.dispose](): void {
    this.#tlsClient?.close();
    this.#tlsClient = undefined;
  }

  /** The endpoint URL. */
  get url(): string {
    return this.#url;
  }

  /**
   * Retrieves instances and yields one outcome per requested instance:
   * `delivered` with the instance as its part arrives, or `failed` with the
   * reason. Never throws for a per-instance failure; throws only on abort.
   * Input is validated before anything is sent; no request is sent before
   * iteration starts, and with `requestPerSeries` each series' request goes
   * out only when iteration reaches it.
   *
   * @param refs Instances, or series/studies that list their instances.
   * @param options A per-call signal and attempt callback.
   * @returns The outcomes.
   * @throws {NonInstanceParameterError} When a study or series has no
   * instances.
   * @throws {InvalidUidError} When a UID is malformed.
   *
   * @example
   * ```ts ignore
   * for await (const o of client.retrieve(refs)) {
   *   if (o.status === "failed") console.error(o.ref.instanceUid, o.error.message);
   * }
   * ```
   */
  retrieve(
    refs: Iterable<Rad69Reference>,
    options: RetrieveCallOptions = {},
  ): AsyncIterable<InstanceOutcome> {
    const instances = toInstanceRefs(refs);
    const batches = planBatches(instances, this.#options);
    return this.#run(batches, options);
  }

  async *#run(
    batches: InstanceReference[][],
    call: RetrieveCallOptions,
  ): AsyncGenerator<InstanceOutcome, void, undefined> {
    const signals = [this.#options.signal, call.signal].filter((
      s,
    ): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0
      ? undefined
      : signals.length === 1
      ? signals[0]
      : AbortSignal.any(signals);
    const logger = this.#options.logger ?? warningLogger;
    for (const [index, batch] of batches.entries()) {
      signal?.throwIfAborted();
      logger.debug?.(
        `Request ${
          index + 1
        } of ${batches.length}: ${batch.length} instance(s) of series ${
          batch[0]!.seriesUid
        }`,
      );
      yield* retrieveWithRetries(batch, this.#batchOptions(signal, call));
    }
  }

  #batchOptions(
    signal: AbortSignal | undefined,
    call: RetrieveCallOptions,
  ): RetryOptions {
    const o = this.#options;
    const out: RetryOptions = {
      url: this.#url,
      logger: o.logger ?? warningLogger,
    };
    const copy = <K extends keyof RetryOptions>(
      key: K,
      value: RetryOptions[K] | undefined,
    ) => {
      if (value !== undefined) out[key] = value;
    };
    copy("headers", o.headers);
    copy("fetch", o.fetch);
    if (o.client) {
      out.client = o.client;
    } else if (o.tls) {
      this.#tlsClient ??= createTlsHttpClient(o.tls);
      out.client = this.#tlsClient;
    }
    copy("signal", signal);
    copy("transferSyntaxes", o.transferSyntaxes);
    copy("repositoryUniqueId", o.repositoryUniqueId);
    copy("homeCommunityId", o.homeCommunityId);
    copy("mtom", o.mtom);
    copy("chunkSize", o.chunkSize);
    copy("engine", o.engine);
    copy("timeoutMs", o.timeoutMs);
    copy("idleTimeoutMs", o.idleTimeoutMs);
    copy("maxRootPartSize", o.maxRootPartSize);
    copy("maxPartSize", o.maxPartSize);
    copy("maxHeaderBytes", o.maxHeaderBytes);
    copy("maxHeaderCount", o.maxHeaderCount);
    copy("retries", o.retries);
    copy("retryBaseDelayMs", o.retryBaseDelayMs);
    copy("retryMaxDelayMs", o.retryMaxDelayMs);
    copy("onAttempt", call.onAttempt);
    copy("onBytes", call.onBytes);
    return out;
  }

  #ignored(error: Rad69Error): boolean {
    return (this.#options.errorsToIgnore ?? []).some((cls) =>
      error instanceof cls
    );
  }

  /**
   * Retrieves instances and yields their datasets as they arrive.
   *
   * A failed instance whose error is in `errorsToIgnore` is logged and
   * skipped. Other failures are thrown once the request they belong to has
   * ended (so every instance that did arrive in it is yielded first): the
   * instance's own error when one failed, an `IncompleteRetrieveError`
   * listing all of them when several did.
   *
   * @param refs Instances, or series/studies that list their instances.
   * @param options A per-call signal.
   * @returns The delivered instances.
   * @throws {NonInstanceParameterError} When a study or series has no
   * instances (before any request).
   * @throws {InvalidUidError} When a UID is malformed (before any request).
   * @throws {Rad69Error} For a failed instance, during iteration.
   *
   * @example
   * ```ts ignore
   * const client = new Rad69Client({ url, errorsToIgnore: [XDSMissingDocumentError] });
   * for await (const instance of client.datasets(refs)) {
   *   await Deno.writeFile(`${instance.ref.instanceUid}.dcm`, instance.bytes);
   * }
   * ```
   */
  datasets(
    refs: Iterable<Rad69Reference>,
    options: RetrieveCallOptions = {},
  ): AsyncIterable<Rad69Instance> {
    const instances = toInstanceRefs(refs);
    const batches = planBatches(instances, this.#options);
    return this.#datasets(batches, options);
  }

  async *#datasets(
    batches: InstanceReference[][],
    options: RetrieveCallOptions,
  ): AsyncGenerator<Rad69Instance, void, undefined> {
    const logger = this.#options.logger ?? warningLogger;
    for (const batch of batches) {
      const failures: Rad69Error[] = [];
      for await (const outcome of this.#run([batch], options)) {
        if (outcome.status === "delivered") {
          yield outcome.instance;
        } else if (this.#ignored(outcome.error)) {
          logger.warn?.(
            `Ignoring ${outcome.error.name} for instance "${outcome.ref.instanceUid}": ${outcome.error.message}`,
          );
        } else {
          failures.push(outcome.error);
        }
      }
      const distinct = [...new Set(failures)];
      if (distinct.length === 1) throw distinct[0];
      if (distinct.length > 1) throw new IncompleteRetrieveError(distinct);
    }
  }

  /**
   * Retrieves one instance.
   *
   * RAD-69 is made for many instances per request: prefer `datasets()` in a
   * loop.
   *
   * @param ref The instance.
   * @param options A per-call signal.
   * @returns The instance.
   * @throws {Rad69Error} The reason it did not arrive (whatever
   * `errorsToIgnore` says: there is nothing else to return).
   *
   * @example
   * ```ts ignore
   * const instance = await client.getDataset({ studyUid, seriesUid, instanceUid });
   * ```
   */
  async getDataset(
    ref: InstanceReference,
    options: RetrieveCallOptions = {},
  ): Promise<Rad69Instance> {
    for await (const outcome of this.retrieve([ref], options)) {
      if (outcome.status === "delivered") return outcome.instance;
      throw outcome.error;
    }
    throw new DocumentNotReturnedError(
      `Nothing came back for instance "${ref.instanceUid}"`,
      { instance: ref },
    );
  }
}
