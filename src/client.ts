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
import {
  downloadInstances,
  type DownloadOptions,
  type DownloadReport,
} from "./download.ts";
import { type Rad69Logger, warningLogger } from "./logger.ts";
import type { ScanEngineKind } from "./multipart/engines.ts";
import {
  type InstanceReference,
  type Rad69Reference,
  toInstanceRefs,
} from "./references.ts";
import type { InstanceOutcome, ResponseLimits } from "./retrieve_batch.ts";
import {
  type ConcurrentRetrieveOptions,
  retrieveConcurrently,
} from "./concurrent.ts";
import {
  type AttemptReport,
  retrieveWithRetries,
  type RetryOptions,
} from "./retry.ts";

/**
 * A class of errors, as listed in `errorsToIgnore`.
 *
 * @example Skip instances the server does not have
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type ErrorClass,
 *   Rad69Client,
 *   silentLogger,
 *   XDSMissingDocumentError,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * const ignored: ErrorClass[] = [XDSMissingDocumentError];
 * const client = new Rad69Client({
 *   url: server.url,
 *   errorsToIgnore: ignored,
 *   logger: silentLogger,
 * });
 * const got = await Array.fromAsync(client.datasets([kept!, gone!]));
 * assert.deepEqual(got.map((i) => i.ref.instanceUid), [kept!.instanceUid]);
 * ```
 */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Rad69Error;

/**
 * Options of {@linkcode Rad69Client}.
 *
 * @example Options for a dcm4chee-arc endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, type Rad69ClientOptions } from "@rad69/client";
 *
 * const options: Rad69ClientOptions = {
 *   url: "https://pacs.example:8443/dcm4chee-arc/xdsi/ImagingDocumentSource",
 *   headers: { Authorization: "Bearer token" },
 *   repositoryUniqueId: "1.2.840.99.1",
 *   maxInstancesPerRequest: 100,
 *   retries: 2,
 *   idleTimeoutMs: 30_000,
 * };
 * using client = new Rad69Client(options);
 * assert.equal(client.url, options.url);
 * assert.throws(() => new Rad69Client({ ...options, retries: -1 }), RangeError);
 * ```
 */
export interface Rad69ClientOptions extends ResponseLimits {
  /** The RAD-69 endpoint, e.g. `https://pacs:8443/dcm4chee-arc/xdsi/ImagingDocumentSource`. */
  url: string | URL;
  /** Extra request headers, e.g. `Authorization`. Never logged. */
  headers?: HeadersInit;
  /**
   * The fetch to use (e.g. one that adds a session).
   *
   * @default {globalThis.fetch}
   */
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
  /**
   * The RepositoryUniqueId sent for instances that carry none. Servers that
   * check it (NIST, dcm4chee 2.x) need the real one.
   *
   * @default {"1.3.6.1.4.1000"} (`DEFAULT_REPOSITORY_UNIQUE_ID`)
   */
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
   * `false` sends `wsa:Action` and `wsa:To` without `mustUnderstand="1"`,
   * for servers that do not process WS-Addressing and answer a
   * `MustUnderstand` Fault (a JAX-WS RI endpoint without AddressingFeature).
   *
   * @default {true}
   */
  addressingMustUnderstand?: boolean;
  /**
   * How many times a transient failure is retried (only the instances not
   * yet delivered are asked for again).
   *
   * @default {3}
   */
  retries?: number;
  /**
   * First backoff delay in ms.
   *
   * @default {500}
   */
  retryBaseDelayMs?: number;
  /**
   * Longest backoff delay in ms.
   *
   * @default {30000}
   */
  retryMaxDelayMs?: number;
  /**
   * Milliseconds to wait for response headers. 0 disables.
   *
   * @default {60000}
   */
  timeoutMs?: number;
  /**
   * Milliseconds without body bytes before a stall. 0 disables.
   *
   * @default {60000}
   */
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
  /**
   * How many requests (series or bins) run at once. Above 1, requests run
   * in Web Workers (fetch, multipart split and DICOM decode off the main
   * thread; bytes come back transferred, not copied), or on the main thread
   * when `workers` is `false` or a custom `fetch` or `client` is given. The
   * first requests start on the main thread while the workers load (50 to
   * 150 ms; a call that fits in one wave of requests creates no worker).
   * Up to this many requests go out as soon as iteration starts; accounting
   * stays per instance, and a failed request (or a crashed worker) fails its
   * own instances only. From workers, `onBytes` gets batched counts, and
   * `instance.dataset` is parsed on first access.
   *
   * @default {1}
   */
  concurrency?: number;
  /**
   * With `concurrency` > 1, where the requests run. Left out (the default):
   * in Web Workers, started in the background while a logical core is free
   * (the first requests, and all of them while the CPU is busy, run on the
   * main thread meanwhile), so workers are used where they help and never
   * take CPU a busy small machine does not have. `true`: in Web Workers
   * always. `false`: concurrent exchanges on the main thread. `"auto"`:
   * workers only on machines with at least 4 logical cores. A custom `fetch`
   * or `client` cannot be sent to a worker: the requests then run on the
   * main thread (logged at debug level). Give `tls` instead of `client` to
   * keep workers.
   *
   * @default {undefined: workers when a core is free}
   */
  workers?: boolean | "auto";
  /**
   * With `concurrency` > 1, yield instances request by request in plan
   * order (still streaming within the current request; later requests are
   * buffered, then paused) instead of as they arrive. Pausing later
   * requests keeps memory bounded but holds their connections idle: keep
   * `idleTimeoutMs` above the time one request takes.
   *
   * @default {false}
   */
  ordered?: boolean;
  /** Stops every call of this client. */
  signal?: AbortSignal;
  /**
   * Where diagnostics go.
   *
   * @default {warnings to the console}
   */
  logger?: Rad69Logger;
}

/**
 * TLS material for mutual TLS and private CAs, as PEM text.
 *
 * @example Give TLS material to a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, type Rad69TlsOptions } from "@rad69/client";
 *
 * // In real use: PEM text read from files, e.g. the hospital's CA.
 * const tls: Rad69TlsOptions = { caCerts: [] };
 * using client = new Rad69Client({ url: "https://pacs.example/rad69", tls });
 * assert.equal(client.url, "https://pacs.example/rad69");
 * const keyless: Rad69TlsOptions = { cert: "-----BEGIN CERTIFICATE-----" };
 * assert.throws(
 *   () => new Rad69Client({ url: "https://pacs.example/rad69", tls: keyless }),
 *   TypeError, // a certificate without its key
 * );
 * ```
 */
export interface Rad69TlsOptions {
  /** The client certificate chain (PEM), for mutual TLS. */
  readonly cert?: string;
  /** The client private key (PEM), for mutual TLS. */
  readonly key?: string;
  /** Extra CA certificates (PEM) to trust, besides the system's. */
  readonly caCerts?: readonly string[];
}

/**
 * Creates a `Deno.HttpClient` from PEM TLS material. {@linkcode Rad69Client}
 * does this itself for its `tls` option (and in every worker); call it to
 * build a client to pass as `client`, or to check PEM material early.
 *
 * @param tls The certificate, key and CA certificates.
 * @returns A client; the caller closes it.
 * @throws {TypeError} When only one of `cert` and `key` is given, or the PEM
 * text cannot be read.
 *
 * @example Check TLS options before a long run
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTlsHttpClient } from "@rad69/client";
 *
 * // Material would come from files: cert, key and caCerts as PEM text.
 * const client = createTlsHttpClient({ caCerts: [] });
 * client.close();
 * assert.throws(
 *   () => createTlsHttpClient({ cert: "-----BEGIN CERTIFICATE-----" }),
 *   TypeError, // a certificate without its key
 * );
 * ```
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

/**
 * Per-call options.
 *
 * @example Watch the attempts and bytes of one call
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type AttemptReport,
 *   Rad69Client,
 *   type RetrieveCallOptions,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url });
 * const attempts: AttemptReport[] = [];
 * let bytes = 0;
 * const options: RetrieveCallOptions = {
 *   signal: new AbortController().signal,
 *   onAttempt: (report) => attempts.push(report),
 *   onBytes: (n) => bytes += n,
 * };
 * for await (const outcome of client.retrieve(study, options)) {
 *   assert.equal(outcome.status, "delivered");
 * }
 * assert.equal(attempts.length, 1);
 * assert.equal(attempts[0]!.delivered, 1);
 * assert.ok(bytes > study[0]!.bytes.length); // the part plus MIME framing
 * ```
 */
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
 * @throws {RangeError} When `maxInstancesPerRequest` is not a whole number
 * >= 0.
 *
 * @example Plan requests per series, in bins of two
 * ```ts
 * import assert from "node:assert/strict";
 * import { planBatches } from "@rad69/client";
 *
 * const refs = [
 *   { studyUid: "1", seriesUid: "1.1", instanceUid: "1.1.1" },
 *   { studyUid: "1", seriesUid: "1.2", instanceUid: "1.2.1" },
 *   { studyUid: "1", seriesUid: "1.1", instanceUid: "1.1.2" },
 *   { studyUid: "1", seriesUid: "1.1", instanceUid: "1.1.3" },
 * ];
 * const perSeries = planBatches(refs, { requestPerSeries: true });
 * assert.deepEqual(perSeries.map((batch) => batch.length), [3, 1]);
 * const binned = planBatches(refs, { maxInstancesPerRequest: 2 });
 * assert.deepEqual(binned.map((batch) => batch.length), [2, 1, 1]);
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

/** Throws the failures of one request: the error itself, or all of them. */
function throwFailures(failures: readonly Rad69Error[]): void {
  const distinct = [...new Set(failures)];
  if (distinct.length === 1) throw distinct[0];
  if (distinct.length > 1) throw new IncompleteRetrieveError(distinct);
}

/** Resolves the `workers` option: `"auto"` means workers on 4+ cores. */
function resolveWorkers(value: boolean | "auto" | undefined): boolean {
  if (value === undefined) return true;
  if (typeof value === "boolean") return value;
  return (navigator.hardwareConcurrency ?? 1) >= 4;
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
 * A client for one RAD-69 Imaging Document Source. `retrieve()` yields one
 * outcome per requested instance, `datasets()` the delivered instances,
 * `getDataset()` one instance, and `download()` writes files to disk.
 *
 * The examples run against the bundled fake server; against a PACS, the URL
 * is its endpoint, e.g.
 * `https://pacs:8443/dcm4chee-arc/xdsi/ImagingDocumentSource`.
 *
 * @example Stream the datasets of a series
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [a, b] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [a!, b!] });
 * const client = new Rad69Client({ url: server.url });
 * const refs = [{
 *   studyUid: a!.studyUid,
 *   seriesUid: a!.seriesUid,
 *   instances: [a!.instanceUid, b!.instanceUid],
 * }];
 * const modalities: string[] = [];
 * for await (const instance of client.datasets(refs)) {
 *   modalities.push(instance.dataset.string("x00080060") ?? "");
 * }
 * assert.deepEqual(modalities, ["CT", "CT"]);
 * assert.equal(server.requests.length, 1); // one request per series
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
   * @throws {TypeError} When the URL is missing or not http(s), or the `tls`
   * material cannot be read.
   * @throws {RangeError} When a numeric option is out of range.
   *
   * @example Options are checked at once
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   *
   * const client = new Rad69Client({
   *   url: "https://pacs.example:8443/dcm4chee-arc/xdsi/ImagingDocumentSource",
   *   repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
   *   concurrency: 4,
   * });
   * assert.ok(client.url.startsWith("https://pacs.example:8443/"));
   * assert.throws(() => new Rad69Client({ url: "ftp://pacs.example/" }), TypeError);
   * assert.throws(
   *   () => new Rad69Client({ url: "https://pacs.example/", concurrency: 0 }),
   *   RangeError,
   * );
   * ```
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
    if (
      options.concurrency !== undefined &&
      (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    ) {
      throw new RangeError(
        `Invalid option concurrency: expected a whole number >= 1, got ${options.concurrency}`,
      );
    }
    if (
      options.workers !== undefined && typeof options.workers !== "boolean" &&
      options.workers !== "auto"
    ) {
      throw new TypeError(
        `Invalid option workers: expected a boolean or "auto", got ${
          JSON.stringify(options.workers)
        }`,
      );
    }
    if (options.ordered !== undefined && typeof options.ordered !== "boolean") {
      throw new TypeError(
        `Invalid option ordered: expected a boolean, got ${typeof options
          .ordered}`,
      );
    }
    this.#options = { ...options };
    this.#url = url.href;
  }

  /**
   * Releases what the client holds (the HTTP client built from `tls`).
   * A `client` passed in options is left open: its owner closes it.
   *
   * @example Dispose of the client with `using`
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * {
   *   using client = new Rad69Client({ url: server.url });
   *   const instance = await client.getDataset(study[0]!);
   *   assert.equal(instance.ref.instanceUid, study[0]!.instanceUid);
   * } // disposed here
   * ```
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
   * @example Account for every instance
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
   * await using server = await FakeRad69Server.start({ instances: [kept!] });
   * const client = new Rad69Client({ url: server.url });
   * const outcomes: string[] = [];
   * for await (const o of client.retrieve([kept!, gone!])) {
   *   outcomes.push(o.status === "failed" ? o.error.name : o.status);
   * }
   * assert.deepEqual(outcomes, ["delivered", "XDSMissingDocumentError"]);
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
    const concurrency = this.#options.concurrency ?? 1;
    if (concurrency > 1) {
      const options: ConcurrentRetrieveOptions = {
        ...this.#batchOptions(signal, call),
        concurrency,
        workers: resolveWorkers(this.#options.workers),
        adaptive: this.#options.workers === undefined,
        ordered: this.#options.ordered ?? false,
      };
      if (
        options.workers && !this.#options.fetch && !this.#options.client
      ) {
        // Workers build their own HTTP client from the PEM material.
        delete options.client;
        if (this.#options.tls) options.tls = this.#options.tls;
      }
      yield* retrieveConcurrently(batches, options);
      return;
    }
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
    copy("addressingMustUnderstand", o.addressingMustUnderstand);
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
   * With `concurrency` > 1, instances are yielded as they arrive from any
   * request (or request by request with `ordered`). A request has ended
   * once the outcome of its last instance arrived; the throw then stops the
   * other requests in flight, and instances of theirs not yet yielded are
   * dropped (use `retrieve()` to get every outcome).
   *
   * @param refs Instances, or series/studies that list their instances.
   * @param options A per-call signal.
   * @returns The delivered instances.
   * @throws {NonInstanceParameterError} When a study or series has no
   * instances (before any request).
   * @throws {InvalidUidError} When a UID is malformed (before any request).
   * @throws {Rad69Error} For a failed instance, during iteration.
   *
   * @example Two series, two requests at a time
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 2, instancesPerSeries: 3 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({ url: server.url, concurrency: 2 });
   * const uids = new Set<string>();
   * for await (const instance of client.datasets(study)) {
   *   uids.add(instance.ref.instanceUid);
   * }
   * assert.equal(uids.size, 6);
   * assert.equal(server.requests.length, 2);
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
    // One run per request when sequential (a failing request throws before
    // the next is sent); one run for all when concurrent, where a request
    // has ended once its last outcome arrived.
    const concurrent = (this.#options.concurrency ?? 1) > 1;
    const runs = concurrent ? [batches] : batches.map((batch) => [batch]);
    for (const run of runs) {
      const batchOf = new Map<string, number>();
      run.forEach((batch, i) => {
        for (const ref of batch) batchOf.set(ref.instanceUid, i);
      });
      const left = run.map((batch) => batch.length);
      const failures: Rad69Error[][] = run.map(() => []);
      for await (const outcome of this.#run(run, options)) {
        const i = batchOf.get(outcome.ref.instanceUid) ?? 0;
        if (outcome.status === "delivered") {
          yield outcome.instance;
        } else if (this.#ignored(outcome.error)) {
          logger.warn?.(
            `Ignoring ${outcome.error.name} for instance "${outcome.ref.instanceUid}": ${outcome.error.message}`,
          );
        } else {
          failures[i]!.push(outcome.error);
        }
        if (--left[i]! === 0 && concurrent) throwFailures(failures[i]!);
      }
      for (const list of failures) throwFailures(list);
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
   * @example Get one instance
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({ url: server.url });
   * const { studyUid, seriesUid, instanceUid } = study[0]!;
   * const instance = await client.getDataset({ studyUid, seriesUid, instanceUid });
   * assert.deepEqual(instance.bytes, study[0]!.bytes);
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

  /**
   * Downloads instances to `dir/<study>/<series>/<instance>.dcm`. Each file
   * is written to a temporary name in its folder and renamed once complete
   * and verified: a file under its final name is never partial.
   *
   * @param refs Instances, or series/studies that list their instances.
   * @param dir The download folder.
   * @param options `resume`, `onProgress`, `signal`, `onAttempt`, `fsync`.
   * @returns What became of every instance, with byte counts and attempts.
   * @throws {NonInstanceParameterError} When a study or series has no
   * instances (before any request).
   * @throws {InvalidUidError} When a UID is malformed (before any request).
   * @throws {Deno.errors.PermissionDenied} When the folder cannot be written.
   *
   * @example Download a series to a folder
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({ url: server.url });
   * const dir = await Deno.makeTempDir();
   * try {
   *   const report = await client.download(study, dir, { resume: true });
   *   assert.equal(report.delivered, 2);
   *   const { studyUid, seriesUid, instanceUid } = study[0]!;
   *   const file = await Deno.readFile(
   *     `${dir}/${studyUid}/${seriesUid}/${instanceUid}.dcm`,
   *   );
   *   assert.deepEqual(file, study[0]!.bytes);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  download(
    refs: Iterable<Rad69Reference>,
    dir: string | URL,
    options: DownloadOptions = {},
  ): Promise<DownloadReport> {
    return downloadInstances(this, refs, dir, options);
  }
}
