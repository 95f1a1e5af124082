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
import type { ResponseLimits } from "./retrieve_batch.ts";
import type {
  ExchangeOutcome,
  InstanceOutcome,
  RetrieveCallOptions,
} from "./outcome.ts";
import { retrieveConcurrently, runConcurrently } from "./concurrent.ts";
import { retryExchange } from "./retry.ts";
import { RAD69_TRANSACTION, rad69Transaction } from "./retrieve_batch.ts";
import {
  type OpenInstanceSink,
  type Transaction,
  unwrapSinkError,
} from "./exchange/transaction.ts";
import {
  checkCount,
  DEFAULTS,
  type ExchangeSettings,
  makeConfig,
  newSession,
  resolveSettings,
} from "./config.ts";
import type { Session, UnauthorizedEvent } from "./exchange/auth_types.ts";
import { redactLogger } from "./redact.ts";
import { isIgnored } from "./exchange/accounting.ts";
import { createTlsHttpClient, type Rad69TlsOptions } from "./tls.ts";

/**
 * A class of errors, as listed in `errorsToIgnore`.
 *
 * @example Skip instances the server does not have
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ErrorClass, Rad69Client, XDSMissingDocumentError } from "@rad69/client";
 * import { silentLogger } from "./logger.ts";
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
   * Errors of these classes (or subclasses), or with these error codes
   * (`"XDSRepositoryBusy"`) or class names (`"Rad69ServerError"`), are
   * logged and the instance skipped, instead of thrown by `datasets()`.
   * Applied per instance. An instance whose bytes came with a RegistryError
   * of severity Error about it fails with that error, unless the error is
   * ignored here: it is then delivered with the error in its `warnings`.
   *
   * @default {[]}
   */
  errorsToIgnore?: readonly (ErrorClass | string)[];
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
   * Send RAD-75 Cross Gateway Retrieve Imaging Document Set instead of
   * RAD-69 (and, in `XdsImagingConsumer`, ITI-38 and ITI-39 instead of
   * ITI-18 and ITI-43): for a Responding Gateway of another community.
   * Every request then needs a HomeCommunityId (`homeCommunityId`, or per
   * instance).
   *
   * @default {false}
   */
  crossGateway?: boolean;
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
   * How many requests (series or bins) run at once. Above 1, they run as
   * concurrent exchanges on the main thread, or in Web Workers as `workers`
   * says (fetch, multipart split and DICOM decode off the main thread;
   * bytes come back transferred, not copied). Up to this many requests go
   * out as soon as iteration starts; accounting stays per instance, and a
   * failed request (or a crashed worker) fails its own instances only. From
   * workers, `onBytes` gets batched counts, and `instance.dataset` is parsed
   * on first access.
   *
   * @default {1}
   */
  concurrency?: number;
  /**
   * With `concurrency` > 1, where the requests run. Left out (the default)
   * or `"auto"`: on the main thread, plus Web Workers on machines with at
   * least 4 logical cores, started in the background while a logical core
   * is idle (the first requests run on the main thread meanwhile; a call
   * that fits in one wave creates none). On a smaller machine a worker only
   * takes CPU from the main thread and the server (bench/README.md, §5).
   * `true`: in Web Workers always. `false`: never. A custom `fetch` or
   * `client`, a log-in hook, `retrieveTo()` and `download()` keep the
   * requests on the main thread (a function or resource cannot be sent to
   * a worker). Give `tls` instead of `client` to keep workers.
   *
   * @default {undefined: workers on 4+ cores while a core is free}
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
  /**
   * XUA: returns the XML of a `<wsse:Security>` header (e.g. a SAML 2.0
   * assertion from your STS), called for every SOAP request and inserted
   * byte for byte, so an expiring assertion is refreshed. Never logged.
   * With it, requests run on the main thread (a function cannot be handed
   * to a worker).
   */
  securityHeader?: () => string | Promise<string>;
  /**
   * Called once when the server refuses the credentials (HTTP 401/403, or
   * a SOAP Fault saying the security token is invalid or expired); may log
   * in again and return headers (a cookie, a bearer token) sent with every
   * later request. The refused request is then sent once more; a second
   * refusal, or a hook that throws, is an `AuthenticationError` naming the
   * endpoint. Returned values are never logged.
   */
  onUnauthorized?: (
    event: UnauthorizedEvent,
  ) => HeadersInit | void | Promise<HeadersInit | void>;
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
 * import { planBatches } from "./client.ts";
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
  const perSeries = options.requestPerSeries ?? DEFAULTS.requestPerSeries;
  const max = options.maxInstancesPerRequest ?? DEFAULTS.maxInstancesPerRequest;
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

/** Cores a machine needs before workers start by themselves. */
const WORKER_CORES = 4;

/**
 * Resolves the `workers` option: `true` and `false` as given; left out (or
 * `"auto"`), workers only on machines with at least 4 logical cores (one
 * kept for the main thread, one for the rest of the machine, two or more
 * for workers), and there only while a core is idle.
 */
function resolveWorkers(value: boolean | "auto" | undefined): boolean {
  if (typeof value === "boolean") return value;
  return (navigator.hardwareConcurrency ?? 1) >= WORKER_CORES;
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
  /** The options as given (frozen): scheduler and planning fields. */
  #options: Readonly<Rad69ClientOptions>;
  #url: string;
  /** The exchange settings, resolved once. */
  #settings: ExchangeSettings;
  /** The logger, redacted once. */
  #logger: Rad69Logger;
  /** Headers from a re-login and the secrets, shared by every call. */
  #session: Session;
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
    checkCount("maxInstancesPerRequest", options.maxInstancesPerRequest);
    const settings = resolveSettings({ ...options, url: url.href });
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
    this.#options = Object.freeze({ ...options });
    this.#url = url.href;
    this.#settings = settings;
    this.#session = newSession(settings);
    this.#logger = redactLogger(
      options.logger ?? warningLogger,
      this.#session.secrets,
    );
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

  #run(
    batches: InstanceReference[][],
    call: RetrieveCallOptions,
  ): AsyncGenerator<InstanceOutcome, void, undefined> {
    return this.#runWith(batches, call, RAD69_TRANSACTION);
  }

  /**
   * Runs a plan with the given transaction (in memory by default, or the
   * sinks of `retrieveTo()`): sequentially, or concurrently on the main
   * thread or in workers. A sink's disk error is thrown as it was raised.
   */
  async *#runWith<Delivered>(
    batches: InstanceReference[][],
    call: RetrieveCallOptions,
    transaction: Transaction<InstanceReference, Delivered>,
  ): AsyncGenerator<
    ExchangeOutcome<InstanceReference, Delivered>,
    void,
    undefined
  > {
    const signals = [this.#options.signal, call.signal].filter((
      s,
    ): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0
      ? undefined
      : signals.length === 1
      ? signals[0]
      : AbortSignal.any(signals);
    const logger = this.#logger;
    const concurrency = this.#options.concurrency ?? DEFAULTS.concurrency;
    // Sinks of the caller's stay on this thread.
    const inMemory = transaction ===
      (RAD69_TRANSACTION as unknown as Transaction<
        InstanceReference,
        Delivered
      >);
    const useWorkers = inMemory && resolveWorkers(this.#options.workers);
    // Workers build their own HTTP client from the PEM material.
    const tlsInWorkers = concurrency > 1 && useWorkers &&
      !this.#options.fetch &&
      !this.#options.client && this.#options.tls !== undefined &&
      !this.#options.securityHeader && !this.#options.onUnauthorized;
    const config = makeConfig(this.#settings, {
      fetch: this.#options.fetch,
      client: tlsInWorkers ? undefined : this.#httpClient(),
      redactedLogger: logger,
      session: this.#session,
      auth: {
        securityHeader: this.#options.securityHeader,
        onUnauthorized: this.#options.onUnauthorized,
      },
      signal,
      onAttempt: call.onAttempt,
      onBytes: call.onBytes,
    });
    const ordered = this.#options.ordered ?? DEFAULTS.ordered;
    if (concurrency > 1 && inMemory) {
      yield* retrieveConcurrently(batches, {
        config,
        concurrency,
        workers: useWorkers,
        adaptive: this.#options.workers !== true,
        ordered,
        ...(tlsInWorkers ? { tls: this.#options.tls } : {}),
      }) as AsyncIterable<ExchangeOutcome<InstanceReference, Delivered>>;
      return;
    }
    if (concurrency > 1) {
      yield* runConcurrently(
        batches,
        { concurrency, ordered },
        config,
        (refs, batchConfig) => retryExchange(transaction, refs, batchConfig),
      );
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
      try {
        yield* retryExchange(transaction, batch, config);
      } catch (error) {
        throw unwrapSinkError(error);
      }
    }
  }

  /** The HTTP client: the given one, or one built once from `tls`. */
  #httpClient(): Deno.HttpClient | undefined {
    if (this.#options.client) return this.#options.client;
    if (!this.#options.tls) return undefined;
    this.#tlsClient ??= createTlsHttpClient(this.#options.tls);
    return this.#tlsClient;
  }

  #ignored(error: Rad69Error): boolean {
    const list = this.#options.errorsToIgnore ?? [];
    return list.some((cls) =>
      typeof cls !== "string" && error instanceof cls
    ) ||
      isIgnored(error, list.filter((e) => typeof e === "string"));
  }

  /**
   * Retrieves instances into sinks of your own: each delivered instance's
   * bytes are written to the sink `open` gives for it as they leave the
   * splitter (nothing holds the whole instance unless the sink does), and
   * the outcome carries what the sink's `close` made. `download()` is built
   * on it. Requests run on the main thread (a sink cannot be sent to a
   * worker); otherwise as `retrieve()`. What a sink throws that is not a
   * `Rad69Error` (a disk error) stops the call and is thrown as is.
   *
   * @param refs Instances, or series/studies that list their instances.
   * @param open Opens the sink of one instance.
   * @param options A per-call signal, attempt and byte callbacks.
   * @returns The outcomes.
   * @throws {NonInstanceParameterError} When a study or series has no
   * instances.
   * @throws {InvalidUidError} When a UID is malformed.
   *
   * @example Hash each instance as it streams, without holding it
   * ```ts
   * import assert from "node:assert/strict";
   * import { type DocumentSink, Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({ url: server.url });
   * const open = (): DocumentSink<number> => {
   *   let size = 0;
   *   return {
   *     write: (bytes) => void (size += bytes.length),
   *     close: () => size,
   *     abort: () => {},
   *   };
   * };
   * const sizes: number[] = [];
   * for await (const o of client.retrieveTo(study, open)) {
   *   if (o.status === "delivered") sizes.push(o.instance);
   * }
   * assert.deepEqual(sizes, study.map((i) => i.bytes.length));
   * ```
   */
  retrieveTo<Delivered>(
    refs: Iterable<Rad69Reference>,
    open: OpenInstanceSink<Delivered>,
    options: RetrieveCallOptions = {},
  ): AsyncIterable<ExchangeOutcome<InstanceReference, Delivered>> {
    const instances = toInstanceRefs(refs);
    const batches = planBatches(instances, this.#options);
    return this.#runWith(
      batches,
      options,
      rad69Transaction((ref, doc) => open(ref, doc)),
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
    const logger = this.#logger;
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
    return downloadInstances(
      (wanted, open, call) => this.retrieveTo(wanted, open, call),
      refs,
      dir,
      options,
    );
  }
}
