/**
 * RAD-69 "Retrieve Imaging Document Set" as a transaction of the exchange
 * core, and one exchange of it for a batch of instances: the unit of work
 * that the client runs per series (or bin) and that workers run off the
 * main thread.
 *
 * @module
 */

import {
  type ExchangeConfig,
  type ExchangeOptions,
  type ExchangeSettings,
  resolveExchangeConfig,
} from "./config.ts";
import type { Rad69ServerError } from "./errors.ts";
import { registryErrorOf } from "./exchange/registry_error.ts";
import type { Rad69Instance } from "./instance.ts";
import type { InstanceOutcome } from "./outcome.ts";
import type { InstanceReference } from "./reference_types.ts";
import { buildRetrieveRequest } from "./soap/request.ts";
import { parseRetrieveResponse } from "./soap/response.ts";
import type { DocumentResponse, RegistryError } from "./soap/types.ts";
import { runExchange } from "./exchange/run_exchange.ts";
import type { DocumentSink, Transaction } from "./exchange/transaction.ts";
import { memoryInstanceSink } from "./instance_sink.ts";

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
   * The largest single part accepted, in bytes (64 GiB: `download()`
   * streams parts to disk, whatever their size).
   *
   * @default {68719476736}
   */
  maxPartSize?: number;
  /**
   * The largest instance `retrieve()`, `datasets()` and `getDataset()` hold
   * in memory, in bytes; a larger one fails with `InstanceTooLargeError`
   * (use `download()`, which streams it to its file).
   *
   * @default {1073741824}
   */
  maxDatasetSize?: number;
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
 * import { retrieveBatch, type RetrieveBatchOptions } from "./retrieve_batch.ts";
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
export interface RetrieveBatchOptions extends
  Omit<
    ExchangeOptions,
    "url" | "onAttempt" | "retries" | "retryBaseDelayMs" | "retryMaxDelayMs"
  >,
  ResponseLimits {
  /** The endpoint URL. */
  url: string;
}

/** Codes saying the instance cannot be sent in a requested transfer syntax. */
const TRANSFER_SYNTAX_CODES = new Set([
  "urn:dicom:wado:0006",
  "urn:dicom:wado:0007",
]);

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
 * import { type RegistryError, XDSMissingDocumentError } from "@rad69/client";
 * import { registryErrorToError } from "./retrieve_batch.ts";
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
  const detail = error.context ? `: ${error.context}` : "";
  const hint = TRANSFER_SYNTAX_CODES.has(error.code) ||
      /transfer syntax/i.test(error.context)
    ? `; it cannot send it in any requested transfer syntax: add the stored one, or ask for it as stored (transferSyntaxes ["*"], --transfer-syntax '*')`
    : "";
  return registryErrorOf(error, {
    notFound:
      `Instance "${ref.instanceUid}" not found on the server (${error.code}${detail})`,
    reported:
      `Server reported ${error.code} for instance "${ref.instanceUid}"${detail}${hint}`,
  }, { instance: ref });
}

/**
 * RAD-69 as the exchange core carries it, with the given sinks for the
 * instances' bytes (or, without, in memory: {@linkcode RAD69_TRANSACTION}).
 *
 * @param open Opens the sink of each instance.
 * @returns The transaction.
 */
export function rad69Transaction<Delivered>(
  open: (
    ref: InstanceReference,
    doc: DocumentResponse,
    settings: ExchangeSettings,
  ) => DocumentSink<Delivered> | Promise<DocumentSink<Delivered>>,
): Transaction<InstanceReference, Delivered> {
  return Object.freeze<Transaction<InstanceReference, Delivered>>({
    name: "RAD-69",
    noun: "instance",
    key: (ref: InstanceReference) => ref.instanceUid,
    buildRequest: (refs, settings, url, extras) =>
      buildRetrieveRequest(refs, {
        url,
        ...(settings.transferSyntaxes
          ? { transferSyntaxes: settings.transferSyntaxes }
          : {}),
        ...(settings.repositoryUniqueId !== undefined
          ? { repositoryUniqueId: settings.repositoryUniqueId }
          : {}),
        ...(settings.homeCommunityId !== undefined
          ? { homeCommunityId: settings.homeCommunityId }
          : {}),
        ...(settings.mtom !== undefined ? { mtom: settings.mtom } : {}),
        addressingMustUnderstand: settings.addressingMustUnderstand,
        crossGateway: settings.crossGateway,
        ...(extras.securityHeader !== undefined
          ? { securityHeader: extras.securityHeader }
          : {}),
      }),
    readRoot: (xml, httpStatus) => parseRetrieveResponse(xml, { httpStatus }),
    open,
    community: (ref) => ref.homeCommunityId,
    errorOptions: (ref) => ({ instance: ref }),
    registryError: registryErrorToError,
  });
}

/** RAD-69, as the exchange core carries it: instances held in memory. */
export const RAD69_TRANSACTION: Transaction<InstanceReference, Rad69Instance> =
  rad69Transaction((ref, doc, settings) =>
    memoryInstanceSink(ref, doc, settings.maxDatasetSize)
  );

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
 * import { retrieveBatch } from "./retrieve_batch.ts";
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
export function retrieveBatch(
  refs: readonly InstanceReference[],
  options: RetrieveBatchOptions | ExchangeConfig,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  return runExchange(RAD69_TRANSACTION, refs, resolveExchangeConfig(options));
}
